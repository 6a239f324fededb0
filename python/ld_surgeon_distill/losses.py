"""The BK-SDM distillation objective (all MSEs with mean reduction):
L = l_task MSE(target, eps_S) + l_out MSE(eps_T, eps_S) + l_feat sum_stages MSE(f_T, f_S)."""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F


def distillation_loss(student_out: torch.Tensor, teacher_out: torch.Tensor, target: torch.Tensor,
                      student_feats: Sequence[torch.Tensor], teacher_feats: Sequence[torch.Tensor],
                      lambda_task: float = 1.0, lambda_out: float = 1.0,
                      lambda_feat: float = 1.0) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    s = student_out.float()
    task = F.mse_loss(s, target.float())
    out = F.mse_loss(s, teacher_out.float().detach())
    feat = torch.zeros((), device=s.device)
    for fs, ft in zip(student_feats, teacher_feats):
        feat = feat + F.mse_loss(fs.float(), ft.float().detach())
    total = lambda_task * task + lambda_out * out + lambda_feat * feat
    return total, {"task": task, "out": out, "feat": feat}
