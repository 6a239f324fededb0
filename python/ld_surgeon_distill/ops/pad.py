"""Pad in its four modes (constant, reflect, edge, wrap), negative pads included."""
import torch
import torch.nn.functional as F

from .registry import op
from .spec import UnsupportedVariant
from .tensors import _ints, _norm_axis, _scalar
from .window import _torch_pads


def _pad_indices(n: int, before: int, after: int, mode: str) -> torch.Tensor:
    i = torch.arange(-before, n + after, dtype=torch.int64)
    if mode == "edge" or (mode == "reflect" and n == 1):
        return i.clamp(0, n - 1)
    if mode == "wrap":
        return torch.remainder(i, n)
    period = 2 * (n - 1)
    m = torch.remainder(i, period)
    return torch.where(m >= n, period - m, m)


@op("Pad")
def _pad(spec):
    mode = spec.attr("mode", "constant")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise UnsupportedVariant(f"mode='{mode}'")
    attr_pads = spec.attr("pads") if spec.opset < 11 else None
    attr_value = float(spec.attr("value", 0.0)) if spec.opset < 11 else None

    def run(x, pads_t=None, value_t=None, axes_t=None):
        pads = list(attr_pads) if attr_pads is not None else _ints(pads_t)
        r = x.dim()
        axes = [_norm_axis(a, r) for a in _ints(axes_t)] if axes_t is not None else list(range(r))
        k = len(axes)
        begins, ends = [0] * r, [0] * r
        for j, a in enumerate(axes):
            begins[a], ends[a] = pads[j], pads[k + j]
        if mode == "constant":
            v = attr_value if attr_value is not None else _scalar(value_t, 0)
            return F.pad(x, _torch_pads(begins, ends), mode="constant", value=v)
        for a in range(r):
            b, e = begins[a], ends[a]
            if b < 0 or e < 0:  # negative pads crop first
                lo, hi = max(-b, 0), int(x.shape[a]) - max(-e, 0)
                x = x.narrow(a, lo, hi - lo)
                b, e = max(b, 0), max(e, 0)
            if b or e:
                x = torch.index_select(x, a, _pad_indices(int(x.shape[a]), b, e, mode).to(x.device))
        return x
    return run
