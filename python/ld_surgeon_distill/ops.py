"""The operator table: how each ONNX operator runs as PyTorch code.

Every entry is a builder `build(node: NodeSpec) -> callable(*inputs) -> tensor | tuple`. Builders run at
import time and reject variants they cannot execute faithfully (cubic Resize, training-mode Dropout, ...)
by raising UnsupportedVariant, so a model that imports will also run. Missing optional inputs arrive as None.

Shape-valued tensors (the outputs of Shape and whatever is computed from them) stay ordinary int64 tensors so
that ONNX arithmetic on them works unchanged. While torch.jit traces the module (torch.onnx.export) shapes are
passed on as lists of 0-d tensors instead of Python ints, so the re-exported graph keeps dynamic dimensions.
"""
import math
from typing import Callable, Dict, List, Optional

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper


class UnsupportedVariant(Exception):
    """The operator is known but this attribute/input combination is not."""


ONNX_TO_TORCH_DTYPE = {
    onnx.TensorProto.FLOAT: torch.float32,
    onnx.TensorProto.DOUBLE: torch.float64,
    onnx.TensorProto.FLOAT16: torch.float16,
    onnx.TensorProto.BFLOAT16: torch.bfloat16,
    onnx.TensorProto.INT8: torch.int8,
    onnx.TensorProto.UINT8: torch.uint8,
    onnx.TensorProto.INT16: torch.int16,
    onnx.TensorProto.INT32: torch.int32,
    onnx.TensorProto.INT64: torch.int64,
    onnx.TensorProto.BOOL: torch.bool,
    onnx.TensorProto.COMPLEX64: torch.complex64,
    onnx.TensorProto.COMPLEX128: torch.complex128,
}

TORCH_TO_ONNX_DTYPE = {v: k for k, v in ONNX_TO_TORCH_DTYPE.items()}


def dtype_name(elem_type: int) -> str:
    try:
        return onnx.TensorProto.DataType.Name(elem_type)
    except ValueError:  # types newer than the installed onnx package (float8, int4, ...)
        return f"type {elem_type}"


class NodeSpec:
    """What a builder sees of a node: attributes, opset and the import-time constant inputs."""

    def __init__(self, node: onnx.NodeProto, opset: int, constants: Dict[str, torch.Tensor]):
        self.node = node
        self.op_type = node.op_type
        self.opset = opset
        self.inputs = list(node.input)
        self.outputs = list(node.output)
        self.attrs = {}
        for a in node.attribute:
            if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                raise UnsupportedVariant(f"attribute '{a.name}' holds a subgraph (control flow is not supported)")
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode("utf-8")
            self.attrs[a.name] = v
        self._constants = constants

    def attr(self, name, default=None):
        return self.attrs.get(name, default)

    def has_input(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] != ""

    def constant_input(self, i: int) -> Optional[torch.Tensor]:
        """The value of input i when it is an initializer or a Constant output, else None."""
        if not self.has_input(i):
            return None
        return self._constants.get(self.inputs[i])


# --------------------------------------------------------------------------------------------------- helpers

def _tracing() -> bool:
    return torch.jit.is_tracing()


def _ints(t) -> Optional[List[int]]:
    if t is None:
        return None
    if isinstance(t, torch.Tensor):
        return [int(v) for v in t.reshape(-1).tolist()]
    return [int(v) for v in t]


def _shape_arg(t: torch.Tensor):
    """A shape tensor as the size list torch functions take; traced as tensors so dims stay dynamic."""
    if _tracing():
        return [t[i] for i in range(t.shape[0])]
    return _ints(t)


def _dims(x: torch.Tensor) -> List[int]:
    """Static sizes as Python ints (while tracing, x.shape entries are traced values)."""
    return [int(d) for d in x.shape]


def _floats(t) -> Optional[List[float]]:
    if t is None:
        return None
    return [float(v) for v in t.reshape(-1).tolist()]


def _norm_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _scalar(t, default=None):
    if t is None:
        return default
    if isinstance(t, torch.Tensor):
        return t.reshape(-1)[0].item() if t.numel() else default
    return t


def _is_float(t: torch.Tensor) -> bool:
    return t.is_floating_point() or t.is_complex()


def _same_device(tensors):
    """Shape arithmetic runs on CPU while activations may live on an accelerator: move CPU operands over."""
    dev = None
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.device.type != "cpu":
            dev = t.device
            break
    if dev is None:
        return tensors
    return [t.to(dev) if isinstance(t, torch.Tensor) and t.device != dev and t.dim() > 0 else t for t in tensors]


OPS: Dict[str, Callable[[NodeSpec], Callable]] = {}


def op(*names):
    def reg(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return reg


# --------------------------------------------------------------------------------------------- element-wise

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


# ---------------------------------------------------------------------------------------------- activations

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


# -------------------------------------------------------------------------------------------- linear layers

@op("MatMul")
def _matmul(spec):
    def run(a, b):
        a, b = _same_device([a, b])
        return torch.matmul(a, b)
    return run


@op("Gemm")
def _gemm(spec):
    alpha = float(spec.attr("alpha", 1.0))
    beta = float(spec.attr("beta", 1.0))
    trans_a = int(spec.attr("transA", 0))
    trans_b = int(spec.attr("transB", 0))

    def run(a, b, c=None):
        if alpha == 1.0 and beta == 1.0 and not trans_a and trans_b and (c is None or c.dim() == 1):
            return F.linear(a, b, c)  # what nn.Linear exports as; keeps re-exports identical
        if trans_a:
            a = a.t()
        if trans_b:
            b = b.t()
        y = torch.matmul(a, b)
        if alpha != 1.0:
            y = y * alpha
        if c is not None:
            y = y + (c * beta if beta != 1.0 else c)
        return y
    return run


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


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


@op("Conv")
def _conv(spec):
    auto_pad = spec.attr("auto_pad", "NOTSET")
    group = int(spec.attr("group", 1))
    attr_pads = spec.attr("pads")
    attr_strides = spec.attr("strides")
    attr_dil = spec.attr("dilations")
    if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise UnsupportedVariant(f"auto_pad='{auto_pad}'")

    def run(x, w, b=None):
        nd = w.dim() - 2
        if nd not in _CONV:
            raise UnsupportedVariant(f"{nd}-D convolution")
        strides = list(attr_strides or [1] * nd)
        dil = list(attr_dil or [1] * nd)
        kernel = _dims(w)[2:]
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            begins, ends = _same_pads(_dims(x)[2:], kernel, strides, dil, auto_pad == "SAME_UPPER")
        elif auto_pad == "VALID":
            begins, ends = [0] * nd, [0] * nd
        else:
            pads = list(attr_pads or [0] * (2 * nd))
            begins, ends = pads[:nd], pads[nd:]
        x, w = _same_device([x, w])
        if begins == ends:
            return _CONV[nd](x, w, b, strides, begins, dil, group)
        x = F.pad(x, _torch_pads(begins, ends))
        return _CONV[nd](x, w, b, strides, 0, dil, group)
    return run


@op("ConvTranspose")
def _conv_transpose(spec):
    auto_pad = spec.attr("auto_pad", "NOTSET")
    group = int(spec.attr("group", 1))
    attr_pads = spec.attr("pads")
    attr_strides = spec.attr("strides")
    attr_dil = spec.attr("dilations")
    attr_out_pad = spec.attr("output_padding")
    attr_out_shape = spec.attr("output_shape")
    if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise UnsupportedVariant(f"auto_pad='{auto_pad}'")

    def run(x, w, b=None):
        nd = w.dim() - 2
        if nd not in _CONV_T:
            raise UnsupportedVariant(f"{nd}-D transposed convolution")
        strides = list(attr_strides or [1] * nd)
        dil = list(attr_dil or [1] * nd)
        out_pad = list(attr_out_pad or [0] * nd)
        kernel = _dims(w)[2:]
        in_sizes = _dims(x)[2:]
        full = [(n - 1) * s + (k - 1) * d + 1 for n, s, k, d in zip(in_sizes, strides, kernel, dil)]
        out_shape = list(attr_out_shape)[-nd:] if attr_out_shape else None
        if out_shape is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out_shape = [n * s for n, s in zip(in_sizes, strides)]
        if out_shape is not None:
            begins, ends = [], []
            for i in range(nd):
                total = full[i] + out_pad[i] - out_shape[i]
                if auto_pad == "SAME_UPPER":
                    begins.append(total // 2)
                    ends.append(total - total // 2)
                else:
                    begins.append(total - total // 2)
                    ends.append(total // 2)
        elif auto_pad == "VALID":
            begins, ends = [0] * nd, [0] * nd
        else:
            pads = list(attr_pads or [0] * (2 * nd))
            begins, ends = pads[:nd], pads[nd:]
        x, w = _same_device([x, w])
        if begins == ends and all(0 <= p < max(s, d) for p, s, d in zip(out_pad, strides, dil)) and min(begins) >= 0:
            return _CONV_T[nd](x, w, b, strides, begins, out_pad, group, dil)
        # General case: full-size result, then crop the pads and append output_padding (F.pad takes negatives).
        y = _CONV_T[nd](x, w, None, strides, 0, 0, group, dil)
        y = F.pad(y, _torch_pads([-p for p in begins], [op_ - p for p, op_ in zip(ends, out_pad)]))
        if b is not None:
            y = y + b.reshape([1, -1] + [1] * nd)
        return y
    return run


# ---------------------------------------------------------------------------------------------- normalizers

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


# -------------------------------------------------------------------------------------------------- pooling
# (not in U-Nets, but in the classifiers that compute a pipeline's FID/FAD)

def _pool_geometry(spec, x, kernel):
    """Explicit begin/end pads per spatial axis, ONNX-style, plus the extra end padding ceil_mode needs."""
    nd = len(kernel)
    auto_pad = spec.attr("auto_pad", "NOTSET")
    strides = list(spec.attr("strides") or [1] * nd)
    dil = list(spec.attr("dilations") or [1] * nd)
    ceil_mode = int(spec.attr("ceil_mode", 0))
    in_sizes = _dims(x)[2:]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = _same_pads(in_sizes, kernel, strides, dil, auto_pad == "SAME_UPPER")
    elif auto_pad == "VALID":
        begins, ends = [0] * nd, [0] * nd
    else:
        pads = list(spec.attr("pads") or [0] * (2 * nd))
        begins, ends = pads[:nd], pads[nd:]
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
    auto_pad = spec.attr("auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise UnsupportedVariant(f"auto_pad='{auto_pad}'")
    if len([o for o in spec.outputs if o]) > 1:
        raise UnsupportedVariant("the Indices output")
    kernel = list(spec.attr("kernel_shape"))
    if not 1 <= len(kernel) <= 3:
        raise UnsupportedVariant(f"{len(kernel)}-D pooling")
    return kernel


@op("AveragePool")
def _average_pool(spec):
    kernel = _check_pool(spec)
    include_pad = int(spec.attr("count_include_pad", 0))
    nd = len(kernel)

    def run(x):
        strides, dil, begins, ends, extra = _pool_geometry(spec, x, kernel)
        c = int(x.shape[1])
        ones = torch.ones([c, 1] + kernel, dtype=x.dtype, device=x.device)
        xp = F.pad(x, _torch_pads(begins, [e + z for e, z in zip(ends, extra)]))
        # Window sums as a depthwise convolution with a ones kernel, divided by how many of the window's
        # cells count: the input, plus the explicit pads when count_include_pad, never the ceil_mode overhang.
        sums = _CONV[nd](xp, ones, None, strides, 0, dil, c)
        mask = torch.ones([1, 1] + _dims(x)[2:], dtype=x.dtype, device=x.device)
        mask = F.pad(mask, _torch_pads(begins, ends), value=1.0 if include_pad else 0.0)
        mask = F.pad(mask, _torch_pads([0] * nd, extra), value=0.0)
        counts = _CONV[nd](mask, ones[:1], None, strides, 0, dil, 1)
        return sums / counts
    return run


@op("MaxPool")
def _max_pool(spec):
    kernel = _check_pool(spec)
    if int(spec.attr("storage_order", 0)):
        raise UnsupportedVariant("storage_order=1")
    nd = len(kernel)
    pools = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}

    def run(x):
        strides, dil, begins, ends, extra = _pool_geometry(spec, x, kernel)
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


@op("BatchNormalization")
def _batch_norm(spec):
    if int(spec.attr("training_mode", 0)) or len([o for o in spec.outputs if o]) > 1:
        raise UnsupportedVariant("training mode (only inference-mode BatchNormalization is supported)")
    eps = float(spec.attr("epsilon", 1e-5))

    def run(x, scale, bias, mean, var):
        return F.batch_norm(x, mean, var, scale, bias, False, 0.0, eps)
    return run


# ---------------------------------------------------------------------------------------- shape & indexing

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


def _axes_from(spec, attr_name="axes", input_index=1, attr_until=13):
    """Axes come from an attribute before `attr_until` and from an input from then on."""
    if spec.opset < attr_until:
        a = spec.attr(attr_name)
        return (lambda *_: a), False
    return (lambda inputs: _ints(inputs[input_index]) if len(inputs) > input_index else None), True


@op("Unsqueeze")
def _unsqueeze(spec):
    attr_axes = spec.attr("axes") if spec.opset < 13 else None

    def run(x, axes_t=None):
        axes = attr_axes if attr_axes is not None else _ints(axes_t)
        r = x.dim() + len(axes)
        for a in sorted(_norm_axis(a, r) for a in axes):
            x = x.unsqueeze(a)
        return x
    return run


@op("Squeeze")
def _squeeze(spec):
    attr_axes = spec.attr("axes") if spec.opset < 13 else None

    def run(x, axes_t=None):
        axes = attr_axes if attr_axes is not None else _ints(axes_t)
        if not axes:
            return x.squeeze()
        for a in sorted((_norm_axis(a, x.dim()) for a in axes), reverse=True):
            x = x.squeeze(a)
        return x
    return run


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
    attr_split = spec.attr("split") if spec.opset < 13 else None
    num_outputs = spec.attr("num_outputs")

    def run(x, split_t=None):
        a = _norm_axis(axis, x.dim())
        sizes = attr_split if attr_split is not None else _ints(split_t)
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


def tensor_from_proto(tp: onnx.TensorProto) -> torch.Tensor:
    if tp.data_type not in ONNX_TO_TORCH_DTYPE:
        raise UnsupportedVariant(f"tensor '{tp.name}' of type {dtype_name(tp.data_type)}")
    if tp.data_type == onnx.TensorProto.BFLOAT16:
        # numpy has no bfloat16: the 16 bits are the upper half of a float32.
        if tp.raw_data:
            bits = np.frombuffer(tp.raw_data, dtype=np.uint16)
        else:
            bits = np.asarray(tp.int32_data, dtype=np.uint16)
        f32 = (bits.astype(np.uint32) << 16).view(np.float32).reshape(tuple(tp.dims))
        return torch.from_numpy(f32.copy()).to(torch.bfloat16)
    arr = numpy_helper.to_array(tp)
    return torch.from_numpy(np.array(arr, copy=True))


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


@op("Einsum")
def _einsum(spec):
    eq = spec.attr("equation").replace(" ", "")
    return lambda *xs: torch.einsum(eq, *_same_device(list(xs)))


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


# ----------------------------------------------------------------------------------------------- reductions

def _reduce(kind):
    def build(spec):
        keepdims = int(spec.attr("keepdims", 1))
        noop = int(spec.attr("noop_with_empty_axes", 0))
        axes_as_input = spec.opset >= (13 if kind == "sum" else 18)
        attr_axes = None if axes_as_input else spec.attr("axes")

        def run(x, axes_t=None):
            axes = _ints(axes_t) if axes_as_input else attr_axes
            if not axes:
                if noop:
                    return x
                axes = list(range(x.dim()))
            axes = [_norm_axis(a, x.dim()) for a in axes]
            if not axes:  # scalar input
                return x
            if kind == "sum":
                return torch.sum(x, dim=axes, keepdim=bool(keepdims), dtype=x.dtype)
            if _is_float(x):
                return torch.mean(x, dim=axes, keepdim=bool(keepdims))
            return torch.mean(x.double(), dim=axes, keepdim=bool(keepdims)).to(x.dtype)
        return run
    return build


OPS["ReduceSum"] = _reduce("sum")
OPS["ReduceMean"] = _reduce("mean")


# ---------------------------------------------------------------------------------------------------- Pad

def _pad_indices(n: int, before: int, after: int, mode: str) -> torch.Tensor:
    i = torch.arange(-before, n + after, dtype=torch.int64)
    if mode == "edge" or (mode == "reflect" and n == 1):
        return i.clamp(0, n - 1)
    if mode == "wrap":
        return torch.remainder(i, n)
    period = 2 * (n - 1)
    m = torch.remainder(i, period)
    return torch.where(m >= n, period - m, m)


@op("Pad")
def _pad(spec):
    mode = spec.attr("mode", "constant")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise UnsupportedVariant(f"mode='{mode}'")
    attr_pads = spec.attr("pads") if spec.opset < 11 else None
    attr_value = float(spec.attr("value", 0.0)) if spec.opset < 11 else None

    def run(x, pads_t=None, value_t=None, axes_t=None):
        pads = list(attr_pads) if attr_pads is not None else _ints(pads_t)
        r = x.dim()
        axes = [_norm_axis(a, r) for a in _ints(axes_t)] if axes_t is not None else list(range(r))
        k = len(axes)
        begins, ends = [0] * r, [0] * r
        for j, a in enumerate(axes):
            begins[a], ends[a] = pads[j], pads[k + j]
        if mode == "constant":
            v = attr_value if attr_value is not None else _scalar(value_t, 0)
            return F.pad(x, _torch_pads(begins, ends), mode="constant", value=v)
        for a in range(r):
            b, e = begins[a], ends[a]
            if b < 0 or e < 0:  # negative pads crop first
                lo, hi = max(-b, 0), int(x.shape[a]) - max(-e, 0)
                x = x.narrow(a, lo, hi - lo)
                b, e = max(b, 0), max(e, 0)
            if b or e:
                x = torch.index_select(x, a, _pad_indices(int(x.shape[a]), b, e, mode).to(x.device))
        return x
    return run


# ------------------------------------------------------------------------------------------------- Resize

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
    if spec.op_type == "Upsample" or spec.opset < 11:
        mode = spec.attr("mode", "nearest")
        coord, nearest_mode = "asymmetric", "floor"  # Upsample / Resize-10 semantics
        antialias, axes_attr, policy = 0, None, "stretch"
        scales_idx, sizes_idx, roi_idx = 1, None, None
        attr_scales = spec.attr("scales") if spec.op_type == "Upsample" and spec.opset < 9 else None
    else:
        mode = spec.attr("mode", "nearest")
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
        if attr_scales is not None:
            scales = list(attr_scales)
            sizes = [int(math.floor(n * s)) for n, s in zip(in_sizes, scales)]
        elif sizes_t is not None and sizes_t.numel() > 0:
            sizes = _ints(sizes_t)
            if policy != "stretch":
                ratios = [o / n for o, n in zip(sizes, in_sizes)]
                s = min(ratios) if policy == "not_larger" else max(ratios)
                scales = [s] * len(axes)
                sizes = [int(math.floor(s * n + 0.5)) for n in in_sizes]
            else:
                scales = [o / n for o, n in zip(sizes, in_sizes)]
        else:
            scales = _floats(scales_t)
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


# CPU kernels of torch 1.13 lack float16/bfloat16 for these: compute in float32 and round the result.
_UPCAST_ON_CPU = {"Conv", "ConvTranspose", "MatMul", "Gemm", "Einsum", "Elu", "LeakyRelu", "Softplus", "Gelu", "Erf",
                  "InstanceNormalization", "LayerNormalization", "GroupNormalization", "Softmax", "LogSoftmax",
                  "Resize", "Upsample", "Pow", "Sqrt", "Exp", "Log", "Tanh", "Sigmoid", "HardSigmoid", "Sin", "Cos",
                  "ReduceMean", "ReduceSum", "CumSum", "Pad", "AveragePool", "MaxPool", "BatchNormalization",
                  "GlobalAveragePool"}
_LOW = (torch.float16, torch.bfloat16)


def with_cpu_half_fallback(op_type: str, fn: Callable) -> Callable:
    if op_type not in _UPCAST_ON_CPU:
        return fn

    def run(*xs):
        low = next((x.dtype for x in xs if isinstance(x, torch.Tensor) and x.dtype in _LOW and x.device.type == "cpu"),
                   None)
        if low is None:
            return fn(*xs)
        ys = fn(*[x.float() if isinstance(x, torch.Tensor) and x.dtype in _LOW else x for x in xs])
        if isinstance(ys, tuple):
            return tuple(y.to(low) if y.is_floating_point() else y for y in ys)
        return ys.to(low) if ys.is_floating_point() else ys
    return run


def supported_op_types() -> List[str]:
    return sorted(OPS)
