"""The distillation objective (all MSEs with mean reduction):
L = l_task MSE(target, eps_S) + l_out MSE(eps_T, eps_S) + l_feat sum_stages D(f_T, f_S)

D is BK-SDM's plain MSE (feat_norm "none"), or each sample's MSE relative to its teacher feature map's mean
square, averaged over the batch (feat_norm "teacher", LAPTOP-Diff's normalised feature distillation): stage outputs differ in scale by orders of
magnitude, so with plain MSEs the loudest stage sets the gradient and the output match (what sampling uses) is
traded away for it; relative errors weigh every stage alike and make l_feat comparable with l_out (eps has unit
variance, so MSE(eps_T, eps_S) is itself a relative error)."""
from typing import Dict, Sequence, Tuple

import math

import torch
import torch.nn.functional as F

FEAT_NORMS = ("none", "teacher")


def feature_distance(fs: torch.Tensor, ft: torch.Tensor, norm: str = "teacher", eps: float = 1e-6) -> torch.Tensor:
    ft = ft.float().detach()
    mse = F.mse_loss(fs.float(), ft)
    if norm == "none":
        return mse
    if norm == "teacher":
        # per sample, then averaged: a sum over samples, so the loss of a batch split over DDP ranks or gradient
        # accumulation steps is the loss of the whole batch (a batch-wide normaliser would differ per split)
        dims = tuple(range(1, ft.dim()))
        if not dims:
            return mse / (ft.pow(2).mean() + eps)
        per_sample = (fs.float() - ft).pow(2).mean(dim=dims) / (ft.pow(2).mean(dim=dims) + eps)
        return per_sample.mean()
    raise ValueError(f"feature normalisation {norm!r}: expected one of {', '.join(FEAT_NORMS)}")


def distillation_loss(student_out: torch.Tensor, teacher_out: torch.Tensor, target: torch.Tensor,
                      student_feats: Sequence[torch.Tensor], teacher_feats: Sequence[torch.Tensor],
                      lambda_task: float = 1.0, lambda_out: float = 1.0,
                      lambda_feat: float = 1.0, feat_norm: str = "none") -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    s = student_out.float()
    task = F.mse_loss(s, target.float())
    out = F.mse_loss(s, teacher_out.float().detach())
    feat = torch.zeros((), device=s.device)
    for fs, ft in zip(student_feats, teacher_feats):
        feat = feat + feature_distance(fs, ft, feat_norm)
    total = lambda_task * task + lambda_out * out + lambda_feat * feat
    return total, {"task": task, "out": out, "feat": feat}


def learning_rate(step: int, base: float, total: int, warmup: int, schedule: str) -> float:
    """LR of optimizer step `step` (1-based): linear warm-up over `warmup` steps, then constant or cosine decay to 0
    at `total` (a short CPU run wants a high LR early and a small one at the end, where it is evaluated)."""
    if warmup and step <= warmup:
        return base * step / warmup
    if schedule == "constant":
        return base
    if schedule == "cosine":
        span = max(total - warmup, 1)
        return base * 0.5 * (1 + math.cos(math.pi * min(step - warmup, span) / span))
    raise ValueError(f"LR schedule {schedule!r}: expected constant or cosine")
