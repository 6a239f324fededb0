"""Ops that produce values from attributes or scalars: Constant, ConstantOfShape, Range."""
import math

import torch

from .registry import op
from .spec import UnsupportedVariant, tensor_from_proto
from .tensors import _is_float, _shape_arg, _tracing


def _tensor_from_attr(spec) -> torch.Tensor:
    a = spec.attrs
    if "value" in a:
        return tensor_from_proto(a["value"])
    if "value_float" in a:
        return torch.tensor(a["value_float"], dtype=torch.float32)
    if "value_floats" in a:
        return torch.tensor(list(a["value_floats"]), dtype=torch.float32)
    if "value_int" in a:
        return torch.tensor(a["value_int"], dtype=torch.int64)
    if "value_ints" in a:
        return torch.tensor(list(a["value_ints"]), dtype=torch.int64)
    raise UnsupportedVariant("Constant without a numeric dense value (sparse_value / strings)")


@op("Constant")
def _constant(spec):
    value = _tensor_from_attr(spec)
    return lambda: value


@op("ConstantOfShape")
def _constant_of_shape(spec):
    v = spec.attr("value")
    value = tensor_from_proto(v).reshape(-1) if v is not None else torch.zeros(1, dtype=torch.float32)

    def run(shape):
        dims = _shape_arg(shape)
        if not dims:
            return value.reshape(()).clone()
        return torch.full(dims, value[0].item(), dtype=value.dtype) if not _tracing() else \
            torch.zeros(dims, dtype=value.dtype) + value[0]
    return run


@op("Range")
def _range(spec):
    def run(start, limit, delta):
        if _tracing():
            return torch.arange(start, limit, delta, dtype=start.dtype)
        s, l, d = start.item(), limit.item(), delta.item()
        n = max(int(math.ceil((l - s) / d)), 0)
        return (torch.arange(n, dtype=torch.float64) * d + s).to(start.dtype) if _is_float(start) else \
            torch.arange(n, dtype=torch.int64).mul(d).add(s).to(start.dtype)
    return run
