"""Matrix products: MatMul, Gemm, Einsum."""
import torch
import torch.nn.functional as F

from .registry import op
from .tensors import _same_device


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


@op("Einsum")
def _einsum(spec):
    eq = spec.attr("equation").replace(" ", "")
    return lambda *xs: torch.einsum(eq, *_same_device(list(xs)))
