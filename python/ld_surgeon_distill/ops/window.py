"""The sliding-window geometry Conv, ConvTranspose and pooling share: strides, dilations and the begin/end pads
that auto_pad or the pads attribute give, in ONNX's order and as F.pad wants them."""
from typing import List, Tuple

import torch.nn.functional as F

from .spec import UnsupportedVariant

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}

_AUTO_PADS = ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")


def _torch_pads(begins, ends):
    """ONNX [b1..bn, e1..en] (first axis first) -> F.pad's (last axis first) order."""
    out = []
    for b, e in zip(reversed(begins), reversed(ends)):
        out += [int(b), int(e)]
    return out


def _same_pads(in_sizes, kernel, strides, dilations, upper):
    begins, ends = [], []
    for n, k, s, d in zip(in_sizes, kernel, strides, dilations):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        small, big = total // 2, total - total // 2
        begins.append(small if upper else big)
        ends.append(big if upper else small)
    return begins, ends


class WindowAttrs:
    """A window op's auto_pad, pads, strides and dilations, read (and auto_pad checked) when the op is imported;
    the defaults that depend on the spatial rank are filled in when it runs."""

    def __init__(self, spec):
        self.auto_pad = spec.attr("auto_pad", "NOTSET")
        if self.auto_pad not in _AUTO_PADS:
            raise UnsupportedVariant(f"auto_pad='{self.auto_pad}'")
        self._pads = spec.attr("pads")
        self._strides = spec.attr("strides")
        self._dilations = spec.attr("dilations")

    @property
    def same(self) -> bool:
        return self.auto_pad in ("SAME_UPPER", "SAME_LOWER")

    def strides(self, nd: int) -> List[int]:
        return list(self._strides or [1] * nd)

    def dilations(self, nd: int) -> List[int]:
        return list(self._dilations or [1] * nd)

    def given_pads(self, nd: int) -> Tuple[List[int], List[int]]:
        """Begin and end pads when auto_pad does not compute them: zero for VALID, else the pads attribute."""
        if self.auto_pad == "VALID":
            return [0] * nd, [0] * nd
        pads = list(self._pads or [0] * (2 * nd))
        return pads[:nd], pads[nd:]

    def pads(self, in_sizes, kernel, strides, dilations) -> Tuple[List[int], List[int]]:
        """Begin and end pads of a forward window (Conv, pooling): SAME_* centre the windows on the input."""
        if self.same:
            return _same_pads(in_sizes, kernel, strides, dilations, self.auto_pad == "SAME_UPPER")
        return self.given_pads(len(kernel))
