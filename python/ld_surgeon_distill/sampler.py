"""Noise schedule, training targets and the DDIM / DDPM sampling loops, from a diffusers scheduler_config.json.

The formulas are diffusers' (DDPMScheduler / DDIMScheduler), computed in float32 like diffusers:
  betas:  linear = linspace(beta_start, beta_end, T); scaled_linear = linspace(sqrt(beta_start), sqrt(beta_end), T)^2;
          squaredcos_cap_v2 = the cosine schedule (betas_for_alpha_bar, max_beta 0.999); or trained_betas.
  alphas_cumprod[t] = prod_{s<=t} (1 - betas[s]);  x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps.
  set_timesteps(n): leading = round(arange(n) * (T // n))[::-1] + steps_offset; trailing = round(arange(T, 0, -T/n)) - 1;
                    linspace = round(linspace(0, T - 1, n))[::-1].   prev_t = t - T // n.
  DDIM (eta 0): x0 = (x - sqrt(1-a_t) eps) / sqrt(a_t);  x_prev = sqrt(a_prev) x0 + sqrt(1-a_prev) eps, where
                a_prev = alphas_cumprod[prev_t], and for prev_t < 0 1.0 (set_alpha_to_one) or alphas_cumprod[0].
  DDPM (fixed_small): beta' = 1 - a_t / a_prev; mean = sqrt(a_prev) beta'/(1-a_t) x0 + sqrt(a_t/a_prev)(1-a_prev)/(1-a_t) x;
                      x_prev = mean + sqrt(max((1-a_prev)/(1-a_t) beta', 1e-20)) z for t > 0.
  prediction_type epsilon / v_prediction / sample converts the model output to (x0, eps); clip_sample clips x0.
  Classifier-free guidance runs the batch [uncond; cond] and mixes eps_u + g (eps_c - eps_u).
"""
import math
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from .conditions import cat_conds


class SchedulerConfigError(Exception):
    pass


class NoiseSchedule:
    def __init__(self, config: Dict, source: str = "scheduler_config.json"):
        self.config = dict(config)
        self.source = source
        self.T = int(config.get("num_train_timesteps", 1000))
        self.prediction_type = config.get("prediction_type", "epsilon")
        if self.prediction_type not in ("epsilon", "v_prediction", "sample"):
            raise SchedulerConfigError(f"{source}: prediction_type '{self.prediction_type}' is not supported "
                                       f"(epsilon, v_prediction, sample)")
        if config.get("thresholding"):
            raise SchedulerConfigError(f"{source}: dynamic thresholding is not supported")
        self.betas = self._betas()
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)
        self.clip_sample = bool(config.get("clip_sample", False))
        self.clip_range = float(config.get("clip_sample_range", 1.0))
        self.set_alpha_to_one = bool(config.get("set_alpha_to_one", True))
        self.steps_offset = int(config.get("steps_offset", 0))
        self.spacing = config.get("timestep_spacing", "leading")
        if self.spacing not in ("leading", "trailing", "linspace"):
            raise SchedulerConfigError(f"{source}: timestep_spacing '{self.spacing}' is not supported")

    def _betas(self) -> torch.Tensor:
        c = self.config
        if c.get("trained_betas") is not None:
            return torch.tensor(c["trained_betas"], dtype=torch.float32)
        kind = c.get("beta_schedule", "linear")
        start, end = float(c.get("beta_start", 0.0001)), float(c.get("beta_end", 0.02))
        if kind == "linear":
            return torch.linspace(start, end, self.T, dtype=torch.float32)
        if kind == "scaled_linear":
            return torch.linspace(start ** 0.5, end ** 0.5, self.T, dtype=torch.float32) ** 2
        if kind == "squaredcos_cap_v2":
            f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
            return torch.tensor([min(1 - f((i + 1) / self.T) / f(i / self.T), 0.999) for i in range(self.T)],
                                dtype=torch.float32)
        raise SchedulerConfigError(f"{self.source}: beta_schedule '{kind}' is not supported")

    # ------------------------------------------------------------------------------------------ training

    def _a(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        a = self.alphas_cumprod.to(like.device)[t.long().to(like.device)]
        return a.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self._a(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the U-Net is trained to output at (x_t, t)."""
        if self.prediction_type == "epsilon":
            return noise
        if self.prediction_type == "sample":
            return x0
        a = self._a(t, x0)
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    # ------------------------------------------------------------------------------------------ sampling

    def timesteps(self, n: int) -> List[int]:
        if n < 1 or n > self.T:
            raise SchedulerConfigError(f"{self.source}: {n} inference steps (must be 1..{self.T})")
        if self.spacing == "leading":
            ratio = self.T // n
            ts = (np.arange(0, n) * ratio).round()[::-1].astype(np.int64) + self.steps_offset
        elif self.spacing == "trailing":
            ts = np.round(np.arange(self.T, 0, -self.T / n)).astype(np.int64) - 1
        else:
            ts = np.linspace(0, self.T - 1, n).round()[::-1].astype(np.int64)
        return [int(t) for t in ts]

    def split(self, out: torch.Tensor, x: torch.Tensor, t: int):
        """Model output at (x, t) -> (x0, eps)."""
        a = self.alphas_cumprod[t].to(x.device)
        if self.prediction_type == "epsilon":
            eps = out
            x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        elif self.prediction_type == "sample":
            x0 = out
            eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
        else:
            x0 = a.sqrt() * x - (1 - a).sqrt() * out
            eps = a.sqrt() * out + (1 - a).sqrt() * x
        if self.clip_sample:
            x0 = x0.clamp(-self.clip_range, self.clip_range)
        return x0, eps

    def ddim_step(self, out, t: int, x, n: int):
        prev_t = t - self.T // n
        x0, eps = self.split(out, x, t)
        final = torch.tensor(1.0) if self.set_alpha_to_one else self.alphas_cumprod[0]
        a_prev = (self.alphas_cumprod[prev_t] if prev_t >= 0 else final).to(x.device)
        return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps

    def ddpm_step(self, out, t: int, x, n: int, noise: Optional[torch.Tensor]):
        prev_t = t - self.T // n
        a_t = self.alphas_cumprod[t].to(x.device)
        a_prev = (self.alphas_cumprod[prev_t] if prev_t >= 0 else torch.tensor(1.0)).to(x.device)
        beta = 1 - a_t / a_prev
        x0, _ = self.split(out, x, t)
        mean = (a_prev.sqrt() * beta / (1 - a_t)) * x0 + ((a_t / a_prev).sqrt() * (1 - a_prev) / (1 - a_t)) * x
        if t > 0:
            var = torch.clamp((1 - a_prev) / (1 - a_t) * beta, min=1e-20)
            mean = mean + var.sqrt() * noise
        return mean


EpsFn = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


@torch.no_grad()
def sample(unet: EpsFn, schedule: NoiseSchedule, x_T: torch.Tensor, steps: int,
           cond: Optional[torch.Tensor] = None, uncond: Optional[torch.Tensor] = None, guidance: float = 1.0,
           kind: str = "ddim", generator: Optional[torch.Generator] = None, timestep_dtype=torch.float32,
           chunk: int = 64, step_noises: Optional[List[torch.Tensor]] = None) -> torch.Tensor:
    """The sampling loop; unet(x, t[B], cond) -> model output. Returns the final latents. DDPM draws its
    per-step noise from `generator`, or replays `step_noises[i]` for the i-th timestep."""
    x = x_T
    for i, t in enumerate(schedule.timesteps(steps)):
        outs = []
        for s in range(0, x.shape[0], chunk):
            xs = x[s:s + chunk]
            c = None if cond is None else cond[s:s + chunk]
            u = None if uncond is None else uncond[s:s + chunk]
            outs.append(_guided(unet, xs, t, c, u, guidance, timestep_dtype))
        out = torch.cat(outs)
        if kind == "ddim":
            x = schedule.ddim_step(out, t, x, steps)
        else:
            if t <= 0:
                z = None
            elif step_noises is not None:
                z = step_noises[i].to(x.device)
            else:
                z = torch.randn(x.shape, generator=generator).to(x.device)
            x = schedule.ddpm_step(out, t, x, steps, z)
    return x


def _guided(unet, x, t, cond, uncond, guidance, timestep_dtype):
    tt = torch.full((x.shape[0],), t, dtype=timestep_dtype, device=x.device)
    if cond is None:
        return unet(x, tt, None)
    if guidance == 1.0 or uncond is None:
        return unet(x, tt, cond)
    both = unet(torch.cat([x, x]), torch.cat([tt, tt]), cat_conds([uncond, cond]))
    e_u, e_c = both.chunk(2)
    return e_u + guidance * (e_c - e_u)
