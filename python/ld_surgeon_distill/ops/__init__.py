"""The operator table: how each ONNX operator runs as PyTorch code.

Every entry is a builder `build(node: NodeSpec) -> callable(*inputs) -> tensor | tuple`. Builders run at
import time and reject variants they cannot execute faithfully (cubic Resize, training-mode Dropout, ...)
by raising UnsupportedVariant, so a model that imports will also run. Missing optional inputs arrive as None.

Shape-valued tensors (the outputs of Shape and whatever is computed from them) stay ordinary int64 tensors so
that ONNX arithmetic on them works unchanged. While torch.jit traces the module (torch.onnx.export) shapes are
passed on as lists of 0-d tensors instead of Python ints, so the re-exported graph keeps dynamic dimensions.

Builders live by op family in this package's modules; importing the package registers them all in OPS.
To add an op: write its builder in its family's module, decorated with @op("OpType").
"""
from . import activations, constants, conv, elementwise, indexing, linear, normalization, pad, pooling, reduce, resize, shape  # noqa: F401  (they register their builders)
from .precision import with_cpu_half_fallback
from .registry import OPS, op, supported_op_types
from .resize import _fast_resize, _resize_axis  # noqa: F401  (checked against each other by the tests)
from .spec import (ONNX_TO_TORCH_DTYPE, TORCH_TO_ONNX_DTYPE, NodeSpec, UnsupportedVariant, dtype_name,
                   tensor_from_proto)

__all__ = ["OPS", "op", "supported_op_types", "with_cpu_half_fallback", "NodeSpec", "UnsupportedVariant",
           "ONNX_TO_TORCH_DTYPE", "TORCH_TO_ONNX_DTYPE", "dtype_name", "tensor_from_proto"]
