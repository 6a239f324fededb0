"""`python -m ld_surgeon_distill.torchrun ...` = torchrun, with one fix for torch 1.13 on Python 3.11.

torch 1.13's elastic launcher parses its default --redirects/--tee value "0" by iterating the IntFlag `Std`,
which on Python 3.11 no longer yields the zero member, so every torchrun call dies in `to_map` with
"'NoneType' object has no attribute 'get'" (Debian 12's python3-torch is this pair). The fix maps 0 to Std.NONE;
on other torch/Python versions it changes nothing. Arguments are torchrun's."""
import sys


def _patch():
    try:
        from torch.distributed.elastic.multiprocessing import api
    except Exception:
        return
    original = api.Std.from_str.__func__

    def from_str(cls, vm):
        value = original(cls, vm)
        if value is None:
            return cls.NONE
        if isinstance(value, dict):
            return {k: (cls.NONE if v is None else v) for k, v in value.items()}
        return value
    api.Std.from_str = classmethod(from_str)


def main():
    _patch()
    from torch.distributed.run import main as torchrun_main
    torchrun_main(sys.argv[1:])


if __name__ == "__main__":
    main()
