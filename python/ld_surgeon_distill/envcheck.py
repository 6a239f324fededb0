"""--check: what the trainer needs, and the command that fixes each missing piece, as one JSON line."""
import importlib
import json
import os
import sys


def _fix(pkg_pip: str, pkg_apt: str) -> str:
    # Debian/Ubuntu's system Python takes packages from apt; any other interpreter from pip.
    if sys.executable.startswith("/usr/bin/python") and os.path.isfile("/etc/debian_version"):
        return f"sudo apt-get install -y {pkg_apt}"
    return f"{sys.executable} -m pip install {pkg_pip}"


def report() -> dict:
    out = {"event": "check", "python": sys.executable, "python_version": sys.version.split()[0],
           "ok": True, "missing": []}
    wanted = [("torch", "torch", "python3-torch"), ("onnx", "onnx", "python3-onnx"),
              ("numpy", "numpy", "python3-numpy")]
    for mod, pip_name, apt_name in wanted:
        try:
            m = importlib.import_module(mod)
            out[mod] = getattr(m, "__version__", "unknown")
        except Exception as e:
            out[mod] = None
            out["ok"] = False
            out["missing"].append({"package": mod, "error": str(e).splitlines()[0] if str(e) else type(e).__name__,
                                   "fix": _fix(pip_name, apt_name)})
    if out.get("torch"):
        import torch
        out["cuda_available"] = bool(torch.cuda.is_available())
        out["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
            if torch.cuda.is_available() else []
        out["cuda_version"] = torch.version.cuda
        out["distributed"] = bool(torch.distributed.is_available())
        out["cpu_threads"] = torch.get_num_threads()
        try:
            import torch.distributed.run  # noqa: F401  (torchrun)
            out["torchrun"] = f"{sys.executable} -m torch.distributed.run"
        except Exception:
            out["torchrun"] = None
    return out


def main() -> int:
    r = report()
    sys.stdout.write(json.dumps(r) + "\n")
    return 0 if r["ok"] else 1
