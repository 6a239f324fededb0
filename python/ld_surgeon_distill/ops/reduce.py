"""Reductions: ReduceSum and ReduceMean (axes as an attribute or, from opset 13/18, an input)."""
import torch

from .registry import OPS
from .tensors import _ints, _is_float, _norm_axis


def _reduce(kind):
    def build(spec):
        keepdims = int(spec.attr("keepdims", 1))
        noop = int(spec.attr("noop_with_empty_axes", 0))
        axes_as_input = spec.opset >= (13 if kind == "sum" else 18)
        attr_axes = None if axes_as_input else spec.attr("axes")

        def run(x, axes_t=None):
            axes = _ints(axes_t) if axes_as_input else attr_axes
            if not axes:
                if noop:
                    return x
                axes = list(range(x.dim()))
            axes = [_norm_axis(a, x.dim()) for a in axes]
            if not axes:  # scalar input
                return x
            if kind == "sum":
                return torch.sum(x, dim=axes, keepdim=bool(keepdims), dtype=x.dtype)
            if _is_float(x):
                return torch.mean(x, dim=axes, keepdim=bool(keepdims))
            return torch.mean(x.double(), dim=axes, keepdim=bool(keepdims)).to(x.dtype)
        return run
    return build


OPS["ReduceSum"] = _reduce("sum")
OPS["ReduceMean"] = _reduce("mean")
