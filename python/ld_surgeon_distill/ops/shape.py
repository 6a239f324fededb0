"""Ops that read or rearrange shapes without changing elements: Shape, Size, Reshape, Flatten, Transpose,
Unsqueeze, Squeeze."""
import torch

from .registry import op
from .tensors import _attr_until_13_else_input, _ints, _norm_axis, _tracing


@op("Shape")
def _shape(spec):
    start = spec.attr("start", 0)
    end = spec.attr("end", None)

    def run(x):
        s = torch._shape_as_tensor(x) if _tracing() else torch.tensor(x.shape, dtype=torch.int64)
        if start == 0 and end is None:
            return s
        return s[start:end] if end is not None else s[start:]
    return run


@op("Size")
def _size(spec):
    return lambda x: torch.tensor(x.numel(), dtype=torch.int64)


@op("Reshape")
def _reshape(spec):
    allowzero = int(spec.attr("allowzero", 0))

    def run(x, shape):
        dims = _ints(shape)
        if not allowzero and 0 in dims:
            if _tracing():
                src = torch._shape_as_tensor(x)[: len(dims)]
                shape = torch.where(shape == 0, src, shape)
            else:
                dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
        if _tracing():
            return torch._reshape_from_tensor(x, shape)
        return x.reshape(dims)
    return run


@op("Flatten")
def _flatten(spec):
    axis = int(spec.attr("axis", 1))

    def run(x):
        a = _norm_axis(axis, x.dim())
        if a == 0:
            return x.reshape(1, -1)
        lead = x.flatten(0, a - 1) if a > 1 else x
        if a == x.dim():
            return lead.reshape(-1, 1)
        return lead.flatten(1) if lead.dim() > 1 else lead.unsqueeze(1)
    return run


@op("Transpose")
def _transpose(spec):
    perm = spec.attr("perm")

    def run(x):
        p = perm if perm is not None else list(reversed(range(x.dim())))
        return x.permute(*p)
    return run


@op("Unsqueeze")
def _unsqueeze(spec):
    axes_of = _attr_until_13_else_input(spec, "axes")

    def run(x, axes_t=None):
        axes = axes_of(axes_t)
        r = x.dim() + len(axes)
        for a in sorted(_norm_axis(a, r) for a in axes):
            x = x.unsqueeze(a)
        return x
    return run


@op("Squeeze")
def _squeeze(spec):
    axes_of = _attr_until_13_else_input(spec, "axes")

    def run(x, axes_t=None):
        axes = axes_of(axes_t)
        if not axes:
            return x.squeeze()
        for a in sorted((_norm_axis(a, x.dim()) for a in axes), reverse=True):
            x = x.squeeze(a)
        return x
    return run
