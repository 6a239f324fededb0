"""Element-wise ops: arithmetic and comparisons (numpy broadcasting), unary math, variadic Min/Max/Sum/Mean,
Where, and the ops that only change the element type (Cast, CastLike) or vanish at inference (Dropout)."""
import torch

from .registry import OPS, op
from .spec import ONNX_TO_TORCH_DTYPE, UnsupportedVariant, dtype_name
from .tensors import _is_float, _same_device


def _binary(fn):
    def build(spec):
        def run(a, b):
            a, b = _same_device([a, b])
            return fn(a, b)
        return run
    return build


def _div(a, b):
    if _is_float(a):
        return a / b
    return torch.div(a, b, rounding_mode="trunc")


def _pow(a, b):
    y = torch.pow(a, b)
    return y if y.dtype == a.dtype else y.to(a.dtype)


OPS["Add"] = _binary(lambda a, b: a + b)
OPS["Sub"] = _binary(lambda a, b: a - b)
OPS["Mul"] = _binary(lambda a, b: a * b)
OPS["Div"] = _binary(_div)
OPS["Pow"] = _binary(_pow)
OPS["Equal"] = _binary(torch.eq)
OPS["Less"] = _binary(torch.lt)
OPS["LessOrEqual"] = _binary(torch.le)
OPS["Greater"] = _binary(torch.gt)
OPS["GreaterOrEqual"] = _binary(torch.ge)
OPS["And"] = _binary(torch.logical_and)
OPS["Or"] = _binary(torch.logical_or)
OPS["Xor"] = _binary(torch.logical_xor)


def _unary(fn):
    def build(spec):
        return fn
    return build


OPS["Sqrt"] = _unary(torch.sqrt)
OPS["Exp"] = _unary(torch.exp)
OPS["Log"] = _unary(torch.log)
OPS["Neg"] = _unary(torch.neg)
OPS["Abs"] = _unary(torch.abs)
OPS["Reciprocal"] = _unary(torch.reciprocal)
OPS["Floor"] = _unary(torch.floor)
OPS["Ceil"] = _unary(torch.ceil)
OPS["Not"] = _unary(torch.logical_not)
OPS["Sin"] = _unary(torch.sin)
OPS["Cos"] = _unary(torch.cos)
OPS["Sigmoid"] = _unary(torch.sigmoid)
OPS["Tanh"] = _unary(torch.tanh)
OPS["Relu"] = _unary(torch.relu)
OPS["Erf"] = _unary(torch.erf)
OPS["Identity"] = _unary(lambda x: x)


def _variadic(fn):
    def build(spec):
        def run(*xs):
            xs = _same_device(list(xs))
            y = xs[0]
            for x in xs[1:]:
                y = fn(y, x)
            return y
        return run
    return build


OPS["Min"] = _variadic(torch.minimum)
OPS["Max"] = _variadic(torch.maximum)
OPS["Sum"] = _variadic(lambda a, b: a + b)


@op("Mean")
def _mean(spec):
    def run(*xs):
        xs = _same_device(list(xs))
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y / len(xs)
    return run


@op("Where")
def _where(spec):
    def run(c, x, y):
        c, x, y = _same_device([c, x, y])
        return torch.where(c, x, y)
    return run


@op("Cast")
def _cast(spec):
    to = int(spec.attr("to"))
    if to not in ONNX_TO_TORCH_DTYPE:
        raise UnsupportedVariant(f"cast to {dtype_name(to)}")
    dtype = ONNX_TO_TORCH_DTYPE[to]
    return lambda x: x.to(dtype)


@op("CastLike")
def _cast_like(spec):
    return lambda x, like: x.to(like.dtype)


@op("Dropout")
def _dropout(spec):
    # Inference semantics: the imported graph is a deterministic function (distillation relies on that).
    if spec.has_input(2):
        t = spec.constant_input(2)
        if t is None or bool(t.reshape(-1)[0]):
            raise UnsupportedVariant("training_mode input (only inference-mode Dropout is supported)")
    want_mask = len(spec.outputs) > 1 and spec.outputs[1] != ""

    def run(x, ratio=None, training=None):
        if want_mask:
            return x, torch.ones_like(x, dtype=torch.bool)
        return x
    return run
