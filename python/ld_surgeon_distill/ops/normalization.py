"""Normalisations: Instance, Group, Layer and (inference-mode) Batch normalisation."""
import torch
import torch.nn.functional as F

from .registry import op
from .spec import UnsupportedVariant
from .tensors import _dims, _norm_axis, _same_device


@op("InstanceNormalization")
def _instance_norm(spec):
    eps = float(spec.attr("epsilon", 1e-5))

    def run(x, scale, bias):
        x, scale, bias = _same_device([x, scale, bias])
        return F.instance_norm(x, weight=scale, bias=bias, eps=eps)
    return run


@op("GroupNormalization")
def _group_norm(spec):
    eps = float(spec.attr("epsilon", 1e-5))
    groups = int(spec.attr("num_groups"))
    per_group_affine = spec.opset < 21  # opset 18 takes scale/bias per group, opset 21 per channel

    def run(x, scale, bias):
        c = int(x.shape[1])
        if per_group_affine:
            scale = scale.repeat_interleave(c // groups)
            bias = bias.repeat_interleave(c // groups)
        return F.group_norm(x, groups, scale, bias, eps)
    return run


@op("LayerNormalization")
def _layer_norm(spec):
    axis = int(spec.attr("axis", -1))
    eps = float(spec.attr("epsilon", 1e-5))
    n_out = len([o for o in spec.outputs if o])
    stash = int(spec.attr("stash_type", 1))

    def run(x, scale, bias=None):
        a = _norm_axis(axis, x.dim())
        norm_shape = _dims(x)[a:]
        if n_out == 1 and list(scale.shape) == norm_shape and (bias is None or list(bias.shape) == norm_shape):
            return F.layer_norm(x, norm_shape, scale, bias, eps)
        dims = list(range(a, x.dim()))
        xc = x.float() if stash == 1 and x.dtype in (torch.float16, torch.bfloat16) else x
        mean = xc.mean(dim=dims, keepdim=True)
        var = ((xc - mean) ** 2).mean(dim=dims, keepdim=True)
        inv = 1.0 / torch.sqrt(var + eps)
        y = ((xc - mean) * inv).to(x.dtype) * scale
        if bias is not None:
            y = y + bias
        return (y, mean, inv)[:max(n_out, 1)] if n_out > 1 else y
    return run


@op("BatchNormalization")
def _batch_norm(spec):
    if int(spec.attr("training_mode", 0)) or len([o for o in spec.outputs if o]) > 1:
        raise UnsupportedVariant("training mode (only inference-mode BatchNormalization is supported)")
    eps = float(spec.attr("epsilon", 1e-5))

    def run(x, scale, bias, mean, var):
        return F.batch_norm(x, mean, var, scale, bias, False, 0.0, eps)
    return run
