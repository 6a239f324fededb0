"""The operator table: ONNX op type -> builder. Each family module registers its builders here on import."""
from typing import Callable, Dict, List

from .spec import NodeSpec

OPS: Dict[str, Callable[[NodeSpec], Callable]] = {}


def op(*names):
    def reg(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return reg


def supported_op_types() -> List[str]:
    return sorted(OPS)
