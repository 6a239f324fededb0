"""What an operator builder is given: the node (attributes, opset, constant inputs), the dtype mapping between
ONNX and torch, and the error that rejects a variant at import time."""
from typing import Dict, Optional

import numpy as np
import onnx
import torch
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
