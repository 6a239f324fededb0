"""The optimisation pieces every example's denoiser trainer shares: warm-up + cosine learning rate, EMA of weights."""
import math

import torch


def warmup_cosine(opt, steps, warm, floor=0.05):
    """Linear warm-up over `warm` steps, then cosine decay to `floor` × the base rate at `steps`."""
    warm = max(1, warm)
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * s / steps))))


@torch.no_grad()
def ema_update(ema_params, params, step, max_decay=0.998):
    """EMA with a short-horizon start ((1+step)/(10+step)), so early weights are not frozen in."""
    decay = min(max_decay, (1 + step) / (10 + step))
    torch._foreach_mul_(ema_params, decay)
    torch._foreach_add_(ema_params, [p.detach() for p in params], alpha=1 - decay)


def noised_batch(lat, batch, g):
    """A training batch for noise prediction: which latents (indices), the clean latents, their noise, timesteps."""
    idx = torch.randint(0, len(lat), (batch,), generator=g)
    z0 = lat[idx]
    noise = torch.randn(z0.shape, generator=g)
    t = torch.randint(0, 1000, (batch,), generator=g)
    return idx, z0, noise, t
