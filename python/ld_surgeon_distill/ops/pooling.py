"""Pooling: AveragePool, MaxPool (ceil_mode, dilations, every auto_pad) and their global forms.
Not in U-Nets, but in the classifiers that compute a pipeline's FID/FAD."""
import torch
import torch.nn.functional as F

from .registry import op
from .spec import UnsupportedVariant
from .tensors import _dims, _is_float
from .window import CONV, WindowAttrs, _torch_pads


def _pool_geometry(spec, win, x, kernel):
    """Explicit begin/end pads per spatial axis, ONNX-style, plus the extra end padding ceil_mode needs."""
    nd = len(kernel)
    strides, dil = win.strides(nd), win.dilations(nd)
    ceil_mode = int(spec.attr("ceil_mode", 0))
    in_sizes = _dims(x)[2:]
    begins, ends = win.pads(in_sizes, kernel, strides, dil)
    extra = []
    for n, k, s, d, b, e in zip(in_sizes, kernel, strides, dil, begins, ends):
        span = (k - 1) * d + 1
        total = n + b + e
        if ceil_mode:
            out = -(-(total - span) // s) + 1
            if (out - 1) * s >= n + b:  # a last window starting in the end padding is dropped
                out -= 1
        else:
            out = (total - span) // s + 1
        extra.append(max((out - 1) * s + span - total, 0))
    return strides, dil, begins, ends, extra


def _check_pool(spec):
    win = WindowAttrs(spec)
    if len([o for o in spec.outputs if o]) > 1:
        raise UnsupportedVariant("the Indices output")
    kernel = list(spec.attr("kernel_shape"))
    if not 1 <= len(kernel) <= 3:
        raise UnsupportedVariant(f"{len(kernel)}-D pooling")
    return win, kernel


@op("AveragePool")
def _average_pool(spec):
    win, kernel = _check_pool(spec)
    include_pad = int(spec.attr("count_include_pad", 0))
    nd = len(kernel)

    def run(x):
        strides, dil, begins, ends, extra = _pool_geometry(spec, win, x, kernel)
        c = int(x.shape[1])
        ones = torch.ones([c, 1] + kernel, dtype=x.dtype, device=x.device)
        xp = F.pad(x, _torch_pads(begins, [e + z for e, z in zip(ends, extra)]))
        # Window sums as a depthwise convolution with a ones kernel, divided by how many of the window's
        # cells count: the input, plus the explicit pads when count_include_pad, never the ceil_mode overhang.
        sums = CONV[nd](xp, ones, None, strides, 0, dil, c)
        mask = torch.ones([1, 1] + _dims(x)[2:], dtype=x.dtype, device=x.device)
        mask = F.pad(mask, _torch_pads(begins, ends), value=1.0 if include_pad else 0.0)
        mask = F.pad(mask, _torch_pads([0] * nd, extra), value=0.0)
        counts = CONV[nd](mask, ones[:1], None, strides, 0, dil, 1)
        return sums / counts
    return run


@op("MaxPool")
def _max_pool(spec):
    win, kernel = _check_pool(spec)
    if int(spec.attr("storage_order", 0)):
        raise UnsupportedVariant("storage_order=1")
    nd = len(kernel)
    pools = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}

    def run(x):
        strides, dil, begins, ends, extra = _pool_geometry(spec, win, x, kernel)
        xf = x if _is_float(x) else x.double()  # no integer max-pool kernels; float64 holds them exactly
        xp = F.pad(xf, _torch_pads(begins, [e + z for e, z in zip(ends, extra)]), value=float("-inf"))
        y = pools[nd](xp, kernel, strides, 0, dil)
        return y if y.dtype == x.dtype else y.to(x.dtype)
    return run


@op("GlobalAveragePool")
def _global_avg_pool(spec):
    return lambda x: x.mean(dim=list(range(2, x.dim())), keepdim=True)


@op("GlobalMaxPool")
def _global_max_pool(spec):
    return lambda x: x.amax(dim=list(range(2, x.dim())), keepdim=True)
