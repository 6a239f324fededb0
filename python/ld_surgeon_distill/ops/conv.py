"""Convolutions: Conv and ConvTranspose (1-D to 3-D, grouped, every auto_pad)."""
import torch.nn.functional as F

from .registry import op
from .spec import UnsupportedVariant
from .tensors import _dims, _same_device
from .window import CONV, CONV_T, WindowAttrs, _torch_pads


@op("Conv")
def _conv(spec):
    group = int(spec.attr("group", 1))
    win = WindowAttrs(spec)

    def run(x, w, b=None):
        nd = w.dim() - 2
        if nd not in CONV:
            raise UnsupportedVariant(f"{nd}-D convolution")
        strides, dil = win.strides(nd), win.dilations(nd)
        begins, ends = win.pads(_dims(x)[2:], _dims(w)[2:], strides, dil)
        x, w = _same_device([x, w])
        if begins == ends:
            return CONV[nd](x, w, b, strides, begins, dil, group)
        x = F.pad(x, _torch_pads(begins, ends))
        return CONV[nd](x, w, b, strides, 0, dil, group)
    return run


@op("ConvTranspose")
def _conv_transpose(spec):
    group = int(spec.attr("group", 1))
    win = WindowAttrs(spec)
    attr_out_pad = spec.attr("output_padding")
    attr_out_shape = spec.attr("output_shape")

    def run(x, w, b=None):
        nd = w.dim() - 2
        if nd not in CONV_T:
            raise UnsupportedVariant(f"{nd}-D transposed convolution")
        strides, dil = win.strides(nd), win.dilations(nd)
        out_pad = list(attr_out_pad or [0] * nd)
        kernel = _dims(w)[2:]
        in_sizes = _dims(x)[2:]
        full = [(n - 1) * s + (k - 1) * d + 1 for n, s, k, d in zip(in_sizes, strides, kernel, dil)]
        out_shape = list(attr_out_shape)[-nd:] if attr_out_shape else None
        if out_shape is None and win.same:
            out_shape = [n * s for n, s in zip(in_sizes, strides)]
        if out_shape is not None:
            begins, ends = [], []
            for i in range(nd):
                total = full[i] + out_pad[i] - out_shape[i]
                if win.auto_pad == "SAME_UPPER":
                    begins.append(total // 2)
                    ends.append(total - total // 2)
                else:
                    begins.append(total - total // 2)
                    ends.append(total // 2)
        else:
            begins, ends = win.given_pads(nd)
        x, w = _same_device([x, w])
        if begins == ends and all(0 <= p < max(s, d) for p, s, d in zip(out_pad, strides, dil)) and min(begins) >= 0:
            return CONV_T[nd](x, w, b, strides, begins, out_pad, group, dil)
        # General case: full-size result, then crop the pads and append output_padding (F.pad takes negatives).
        y = CONV_T[nd](x, w, None, strides, 0, 0, group, dil)
        y = F.pad(y, _torch_pads([-p for p in begins], [op_ - p for p, op_ in zip(ends, out_pad)]))
        if b is not None:
            y = y + b.reshape([1, -1] + [1] * nd)
        return y
    return run
