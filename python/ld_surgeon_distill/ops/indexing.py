"""Ops that select, join or repeat along axes: Concat, Split, Slice, Gather, Expand, Tile, Trilu, CumSum."""
import torch

from .registry import op
from .tensors import _attr_until_13_else_input, _dims, _ints, _norm_axis, _same_device, _scalar, _shape_arg, _tracing


@op("Concat")
def _concat(spec):
    axis = int(spec.attr("axis"))

    def run(*xs):
        xs = _same_device(list(xs))
        return torch.cat(xs, dim=axis)
    return run


@op("Split")
def _split(spec):
    axis = int(spec.attr("axis", 0))
    n_out = len(spec.outputs)
    split_of = _attr_until_13_else_input(spec, "split")
    num_outputs = spec.attr("num_outputs")

    def run(x, split_t=None):
        a = _norm_axis(axis, x.dim())
        sizes = split_of(split_t)
        if not sizes:
            n = num_outputs or n_out
            total = int(x.shape[a])
            chunk = -(-total // n)
            sizes = [min(chunk, total - i * chunk) for i in range(n)]
        return tuple(torch.split(x, list(sizes), dim=a))
    return run


@op("Slice")
def _slice(spec):
    if spec.opset < 10:
        attr_starts, attr_ends, attr_axes = spec.attr("starts"), spec.attr("ends"), spec.attr("axes")
    else:
        attr_starts = attr_ends = attr_axes = None

    def run(x, starts=None, ends=None, axes=None, steps=None):
        if attr_starts is not None:
            st, en, ax, sp = list(attr_starts), list(attr_ends), attr_axes, None
        else:
            st, en, ax, sp = _ints(starts), _ints(ends), _ints(axes), _ints(steps)
        ax = list(range(len(st))) if ax is None else ax
        sp = [1] * len(st) if sp is None else sp
        index = [slice(None)] * x.dim()
        flips = []
        for s, e, a, k in zip(st, en, ax, sp):
            a = _norm_axis(a, x.dim())
            n = int(x.shape[a])
            s = s + n if s < 0 else s
            e = e + n if e < 0 else e
            if k > 0:
                s, e = min(max(s, 0), n), min(max(e, 0), n)
                index[a] = slice(s, e, k)
            else:
                s, e = min(max(s, 0), n - 1), min(max(e, -1), n - 1)
                flips.append((a, torch.arange(s, e, k, dtype=torch.int64)))
        y = x[tuple(index)] if any(i != slice(None) for i in index) else x
        for a, idx in flips:  # torch has no negative-step slicing
            y = torch.index_select(y, a, idx.to(y.device))
        return y
    return run


@op("Gather")
def _gather(spec):
    axis = int(spec.attr("axis", 0))

    def run(x, idx):
        a = _norm_axis(axis, x.dim())
        idx = idx.to(device=x.device, dtype=torch.int64)
        return x[(slice(None),) * a + (idx,)]
    return run


@op("Expand")
def _expand(spec):
    def run(x, shape):
        dims = _ints(shape)
        out = list(torch.broadcast_shapes(tuple(_dims(x)), tuple(dims)))
        if _tracing() and len(dims) == len(out) and dims == out:
            return x.expand(*_shape_arg(shape))
        return x.expand(*out)
    return run


@op("Tile")
def _tile(spec):
    return lambda x, repeats: x.repeat(*_ints(repeats))


@op("CumSum")
def _cumsum(spec):
    exclusive = int(spec.attr("exclusive", 0))
    reverse = int(spec.attr("reverse", 0))

    def run(x, axis):
        a = _norm_axis(int(_scalar(axis)), x.dim())
        y = x.flip(a) if reverse else x
        c = torch.cumsum(y, a, dtype=x.dtype)
        if exclusive:
            zero = torch.zeros_like(c.narrow(a, 0, 1))
            c = torch.cat([zero, c.narrow(a, 0, int(c.shape[a]) - 1)], dim=a)
        return c.flip(a) if reverse else c
    return run


@op("Trilu")
def _trilu(spec):
    upper = int(spec.attr("upper", 1))

    def run(x, k=None):
        kk = int(_scalar(k, 0))
        return torch.triu(x, kk) if upper else torch.tril(x, kk)
    return run
