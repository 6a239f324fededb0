"""Scaled dot-product attention found in an imported graph and run as one operation.

An exported attention block computes softmax(Q·Kᵀ·s)·V as four nodes (MatMul, Mul or Div by a constant, Softmax,
MatMul). Run node by node, autograd keeps the n×n score matrices for the backward pass: at Stable Diffusion scale
(4,096 tokens at 64×64 latents, 8 heads) that is most of a training step's GPU memory. torch's
scaled_dot_product_attention (flash / memory-efficient kernels, torch >= 2.1) computes the same without keeping
them. Only the execution plan changes: tracing for a re-export still runs the original nodes, so the exported
graph has the same nodes, names and scopes as before.
"""
import copy
from typing import Callable, Dict, List, Optional, Set, Tuple

import torch
import torch.nn.functional as F

# the `scale` argument came with torch 2.1; without it the fused step computes the same math in one place
HAS_SDPA = hasattr(F, "scaled_dot_product_attention") and \
    tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 1)


def attention_fn(scale: float) -> Callable:
    def run(q: torch.Tensor, k_t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        low_on_cpu = q.device.type == "cpu" and q.dtype in (torch.float16, torch.bfloat16)
        same_batch = q.dim() == k_t.dim() == v.dim() and q.shape[:-2] == k_t.shape[:-2] == v.shape[:-2]
        if HAS_SDPA and same_batch and not low_on_cpu:
            return F.scaled_dot_product_attention(q, k_t.transpose(-1, -2), v, scale=scale)
        return torch.matmul(torch.softmax(torch.matmul(q, k_t) * scale, dim=-1), v)
    return run


def _scalar(value) -> Optional[float]:
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel() == 1:
        return float(value.reshape(()))
    return None


def fuse_attention(steps: List, fixed: Dict[str, torch.Tensor], softmax_axis: Callable[[object], int],
                   keep: Set[str]) -> Tuple[List, Set[str], int]:
    """Returns (plan, fused-away value names, number of attentions fused). The plan holds a copy of every step
    (each plan keeps its own free lists), with each MatMul → [Mul|Div by a constant] → Softmax(-1) → MatMul chain
    whose intermediate values nothing else reads (and none of them in `keep`) replaced by one step at the position
    of the last MatMul."""
    producer = {o: s for s in steps for o in s.outputs if o}
    readers: Dict[str, List] = {}
    for s in steps:
        for i in s.inputs:
            if i:
                readers.setdefault(i, []).append(s)

    def only_reader(value: str):
        r = readers.get(value, [])
        return r[0] if len(r) == 1 and value not in keep else None

    dropped: Set[int] = set()
    fused_at: Dict[int, object] = {}
    away: Set[str] = set()
    for sm in steps:
        if sm.op_type != "Softmax" or softmax_axis(sm) != -1 or len(sm.inputs) != 1:
            continue
        pv = only_reader(sm.outputs[0])
        if pv is None or pv.op_type != "MatMul" or pv.inputs[0] != sm.outputs[0]:
            continue
        scaled = producer.get(sm.inputs[0])
        chain, scale = [sm], 1.0
        if scaled is not None and scaled.op_type in ("Mul", "Div") and only_reader(scaled.outputs[0]) is sm:
            a, b = scaled.inputs
            c = _scalar(fixed.get(b))
            if c is None and scaled.op_type == "Mul":
                a, c = b, _scalar(fixed.get(a))
            if c is None or c == 0:
                continue
            scale = c if scaled.op_type == "Mul" else 1.0 / c
            chain.append(scaled)
            qk = producer.get(a)
        else:
            qk = scaled
        if qk is None or qk.op_type != "MatMul" or only_reader(qk.outputs[0]) is not chain[-1]:
            continue
        chain.append(qk)
        fused = copy.copy(pv)
        fused.op_type = "Attention"
        fused.inputs = [qk.inputs[0], qk.inputs[1], pv.inputs[1]]
        fused.fn = attention_fn(scale)
        fused_at[id(pv)] = fused
        for s in chain:
            dropped.add(id(s))
            away.update(o for o in s.outputs if o)
    plan = []
    for s in steps:
        if id(s) in dropped:
            continue
        plan.append(fused_at.get(id(s)) or copy.copy(s))
    return plan, away, len(fused_at)
