"""Half-precision on CPU: torch 1.13's CPU kernels lack float16/bfloat16 for some ops."""
from typing import Callable

import torch

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
