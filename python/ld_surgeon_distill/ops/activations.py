"""Activations with attributes (LeakyRelu, Elu, Gelu, Softplus, HardSigmoid, Clip) and Softmax/LogSoftmax."""
import numpy as np
import torch
import torch.nn.functional as F

from .registry import op
from .spec import UnsupportedVariant
from .tensors import _dims, _norm_axis, _scalar


@op("LeakyRelu")
def _leaky_relu(spec):
    alpha = float(spec.attr("alpha", 0.01))
    return lambda x: F.leaky_relu(x, alpha)


@op("Elu")
def _elu(spec):
    alpha = float(spec.attr("alpha", 1.0))
    return lambda x: F.elu(x, alpha)


@op("Gelu")
def _gelu(spec):
    approximate = spec.attr("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise UnsupportedVariant(f"approximate='{approximate}'")
    return lambda x: F.gelu(x, approximate=approximate)


@op("Softplus")
def _softplus(spec):
    # torch's softplus switches to the identity above x=20, where log1p(exp(x)) - x < 3e-9: within tolerance.
    return lambda x: F.softplus(x)


@op("HardSigmoid")
def _hard_sigmoid(spec):
    alpha = float(spec.attr("alpha", 0.2))
    beta = float(spec.attr("beta", 0.5))
    return lambda x: torch.clamp(x * alpha + beta, 0.0, 1.0)


@op("Clip")
def _clip(spec):
    if spec.opset < 11:
        lo = spec.attr("min", None)
        hi = spec.attr("max", None)
        return lambda x: torch.clamp(x, min=lo, max=hi)

    def run(x, lo=None, hi=None):
        lo = _scalar(lo)
        hi = _scalar(hi)
        if lo is None and hi is None:
            return x
        return torch.clamp(x, min=lo, max=hi)
    return run


@op("Softmax", "LogSoftmax")
def _softmax(spec):
    fn = torch.softmax if spec.op_type == "Softmax" else torch.log_softmax
    if spec.opset >= 13:
        axis = int(spec.attr("axis", -1))
        return lambda x: fn(x, dim=axis)
    axis = int(spec.attr("axis", 1))

    def run(x):
        # Before opset 13 the input is coerced to 2-D at `axis` and normalised over the whole trailing block.
        a = _norm_axis(axis, x.dim())
        flat = x.reshape(int(np.prod(_dims(x)[:a], dtype=np.int64)), -1)
        return fn(flat, dim=1).reshape(x.shape)
    return run
