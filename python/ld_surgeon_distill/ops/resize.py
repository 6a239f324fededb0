"""Resize (and Upsample): nearest and linear in every coordinate transformation mode, axis by axis, with
F.interpolate where it computes exactly the ONNX formula."""
import math

import torch
import torch.nn.functional as F

from .registry import op
from .spec import UnsupportedVariant
from .tensors import _dims, _floats, _ints, _norm_axis


_COORD_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                "tf_crop_and_resize")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _source_coords(mode, out_n, in_n, scale, roi_start, roi_end):
    x = torch.arange(out_n, dtype=torch.float64)
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        adjustment = out_n / (scale * in_n)
        center = in_n / 2
        offset = center * (1 - adjustment)
        return offset + (x + 0.5) / scale - 0.5
    # As in ONNX's reference, these two use the unrounded output length scale * in_n.
    out_f = scale * in_n
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if out_f != 1 else torch.full_like(x, -0.5)
    if mode == "align_corners":
        return x * ((in_n - 1) / (out_f - 1)) if out_f != 1 else torch.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    # tf_crop_and_resize
    if out_n > 1:
        return roi_start * (in_n - 1) + x * (roi_end - roi_start) * (in_n - 1) / (out_n - 1)
    return torch.full_like(x, 0.5 * (roi_start + roi_end) * (in_n - 1))


def _round_nearest(x, nearest_mode):
    if nearest_mode == "floor":
        return torch.floor(x)
    if nearest_mode == "ceil":
        return torch.ceil(x)
    fl = torch.floor(x)
    half = (x - fl) == 0.5
    if nearest_mode == "round_prefer_floor":
        return torch.where(half, fl, torch.floor(x + 0.5))
    return torch.where(half, fl + 1, torch.floor(x + 0.5))


def _resize_axis(x, axis, out_n, scale, mode, coord, nearest_mode, roi, extrapolation):
    in_n = int(x.shape[axis])
    src = _source_coords(coord, out_n, in_n, scale, roi[0], roi[1])
    shape = [1] * x.dim()
    shape[axis] = out_n
    outside = (src < 0) | (src > in_n - 1) if coord == "tf_crop_and_resize" else None
    if mode == "nearest":
        idx = _round_nearest(src, nearest_mode).clamp(0, in_n - 1).long()
        y = torch.index_select(x, axis, idx.to(x.device))
    else:
        x0 = torch.floor(src)
        w = (src - x0).to(x.dtype).reshape(shape).to(x.device)
        i0 = x0.clamp(0, in_n - 1).long().to(x.device)
        i1 = (x0 + 1).clamp(0, in_n - 1).long().to(x.device)
        y = torch.index_select(x, axis, i0) * (1 - w) + torch.index_select(x, axis, i1) * w
    if outside is not None and bool(outside.any()):
        y = torch.where(outside.reshape(shape).to(x.device), torch.tensor(extrapolation, dtype=x.dtype), y)
    return y


@op("Resize", "Upsample")
def _resize(spec):
    mode = spec.attr("mode", "nearest")
    if spec.op_type == "Upsample" or spec.opset < 11:
        coord, nearest_mode = "asymmetric", "floor"  # Upsample / Resize-10 semantics
        antialias, axes_attr, policy = 0, None, "stretch"
        scales_idx, sizes_idx, roi_idx = 1, None, None
        attr_scales = spec.attr("scales") if spec.op_type == "Upsample" and spec.opset < 9 else None
    else:
        coord = spec.attr("coordinate_transformation_mode", "half_pixel")
        nearest_mode = spec.attr("nearest_mode", "round_prefer_floor")
        antialias = int(spec.attr("antialias", 0))
        axes_attr = spec.attr("axes")
        policy = spec.attr("keep_aspect_ratio_policy", "stretch")
        scales_idx, sizes_idx, roi_idx = 2, 3, 1
        attr_scales = None
    extrapolation = float(spec.attr("extrapolation_value", 0.0))
    if mode == "bilinear":
        mode = "linear"
    if mode not in ("nearest", "linear"):
        raise UnsupportedVariant(f"mode='{mode}' (nearest and linear are supported)")
    if antialias:
        raise UnsupportedVariant("antialias=1")
    if coord not in _COORD_MODES:
        raise UnsupportedVariant(f"coordinate_transformation_mode='{coord}'")
    if nearest_mode not in _NEAREST_MODES:
        raise UnsupportedVariant(f"nearest_mode='{nearest_mode}'")
    if policy not in ("stretch", "not_larger", "not_smaller"):
        raise UnsupportedVariant(f"keep_aspect_ratio_policy='{policy}'")

    def run(x, *rest):
        args = (x,) + rest
        get = lambda i: args[i] if i is not None and i < len(args) else None
        r = x.dim()
        axes = [_norm_axis(a, r) for a in axes_attr] if axes_attr else list(range(r))
        scales_t, sizes_t, roi_t = get(scales_idx), get(sizes_idx), get(roi_idx)
        in_sizes = [int(x.shape[a]) for a in axes]
        if attr_scales is None and sizes_t is not None and sizes_t.numel() > 0:
            scales, sizes = _scales_for_sizes(in_sizes, _ints(sizes_t), policy)
        else:
            scales = list(attr_scales) if attr_scales is not None else _floats(scales_t)
            sizes = [int(math.floor(n * s)) for n, s in zip(in_sizes, scales)]
        roi = _floats(roi_t) if roi_t is not None and roi_t.numel() else None
        k = len(axes)
        rois = [(roi[j], roi[k + j]) if roi else (0.0, 1.0) for j in range(k)]

        fast = _fast_resize(x, axes, scales, sizes, mode, coord, nearest_mode, rois)
        if fast is not None:
            return fast
        y = x
        for j, a in enumerate(axes):
            if sizes[j] == in_sizes[j] and scales[j] == 1.0 and coord != "tf_crop_and_resize":
                continue
            y = _resize_axis(y, a, sizes[j], scales[j], mode, coord, nearest_mode, rois[j], extrapolation)
        return y
    return run


def _scales_for_sizes(in_sizes, sizes, policy):
    """Scales (and, under keep_aspect_ratio_policy, the sizes actually produced) when Resize is given sizes."""
    if policy == "stretch":
        return [o / n for o, n in zip(sizes, in_sizes)], sizes
    ratios = [o / n for o, n in zip(sizes, in_sizes)]
    s = min(ratios) if policy == "not_larger" else max(ratios)
    return [s] * len(in_sizes), [int(math.floor(s * n + 0.5)) for n in in_sizes]


def _fast_resize(x, axes, scales, sizes, mode, coord, nearest_mode, rois):
    """F.interpolate for the cases where it computes exactly the ONNX formula; it exports back to Resize."""
    r = x.dim()
    if axes != list(range(r)) or r not in (3, 4, 5) or scales[0] != 1.0 or scales[1] != 1.0:
        return None
    if sizes[0] != int(x.shape[0]) or sizes[1] != int(x.shape[1]):
        return None
    spatial = scales[2:]
    if mode == "nearest" and coord == "asymmetric" and nearest_mode == "floor" \
            and all(s >= 1 and float(s).is_integer() for s in spatial):
        return F.interpolate(x, scale_factor=[float(s) for s in spatial], mode="nearest")
    exact = all(o == n * s for o, n, s in zip(sizes[2:], _dims(x)[2:], spatial))
    if mode == "linear" and r == 4 and exact and all(s >= 1 for s in spatial):
        if coord == "half_pixel" or (coord == "pytorch_half_pixel" and min(sizes[2:]) > 1):
            return F.interpolate(x, size=sizes[2:], mode="bilinear", align_corners=False)
        if coord == "align_corners":
            return F.interpolate(x, size=sizes[2:], mode="bilinear", align_corners=True)
    return None
