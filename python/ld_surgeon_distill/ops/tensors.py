"""Small conversions the builders share: shape tensors to Python ints (or traced values while torch.jit traces),
axes, scalars, and moving CPU shape arithmetic next to activations on an accelerator."""
from typing import List, Optional

import torch


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


def _attr_until_13_else_input(spec, name):
    """`name` (axes, split) is an attribute before opset 13 and an input from then on: picks it from either."""
    from_attr = spec.attr(name) if spec.opset < 13 else None
    return lambda t: from_attr if from_attr is not None else _ints(t)
