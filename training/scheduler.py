"""Reference DDPM/DDIM samplers: diffusers' DDPMScheduler / DDIMScheduler formulas in plain torch.

Formulas (T = num_train_timesteps, n = number of inference steps), all in float32 like diffusers:
  betas  "scaled_linear": linspace(sqrt(beta_start), sqrt(beta_end), T) ** 2
         "linear":        linspace(beta_start, beta_end, T)
  alphas_cumprod[t] = prod_{s<=t} (1 - betas[s])
  set_timesteps(n), timestep_spacing "leading":
      step_ratio = T // n;  timesteps = reversed(round(arange(n) * step_ratio)) + steps_offset
      (SD 1.x config, T=1000, n=10, steps_offset=1: 901, 801, ..., 101, 1)
  prev_t = t - T // n
  DDIM step (eta = 0, clip_sample false):
      a_t = alphas_cumprod[t];  a_prev = alphas_cumprod[prev_t] if prev_t >= 0 else final_alpha_cumprod
      final_alpha_cumprod = 1.0 if set_alpha_to_one else alphas_cumprod[0]
      x0 = (x_t - sqrt(1 - a_t) * eps) / sqrt(a_t)
      x_prev = sqrt(a_prev) * x0 + sqrt(1 - a_prev) * eps
  DDPM step (variance_type "fixed_small", clip_sample false):
      a_t = alphas_cumprod[t];  a_prev = alphas_cumprod[prev_t] if prev_t >= 0 else 1.0
      beta_t' = 1 - a_t / a_prev
      x0 = (x_t - sqrt(1 - a_t) * eps) / sqrt(a_t)
      mean = sqrt(a_prev) * beta_t' / (1 - a_t) * x0 + sqrt(a_t / a_prev) * (1 - a_prev) / (1 - a_t) * x_t
      variance = max((1 - a_prev) / (1 - a_t) * beta_t', 1e-20)
      x_prev = mean + sqrt(variance) * z_t   (z_t ~ N(0, I) drawn for every step with t > 0)
  Classifier-free guidance: eps = eps_uncond + g * (eps_cond - eps_uncond), the U-Net run on the
  batch [uncond; cond] like diffusers' pipelines.
  The initial latent is x_T ~ N(0, I) (init_noise_sigma = 1); the VAE decoder gets x_0 / scaling_factor.
"""
import torch

SD_SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "variance_type": "fixed_small",
    "thresholding": False,
}


def alphas_cumprod(cfg=SD_SCHEDULER_CONFIG):
    T = cfg["num_train_timesteps"]
    if cfg["beta_schedule"] == "scaled_linear":
        betas = torch.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, T, dtype=torch.float32) ** 2
    elif cfg["beta_schedule"] == "linear":
        betas = torch.linspace(cfg["beta_start"], cfg["beta_end"], T, dtype=torch.float32)
    else:
        raise ValueError(f"unsupported beta_schedule {cfg['beta_schedule']}")
    return torch.cumprod(1.0 - betas, dim=0)


def leading_timesteps(n, cfg=SD_SCHEDULER_CONFIG):
    if cfg["timestep_spacing"] != "leading":
        raise ValueError("only timestep_spacing 'leading' is implemented")
    ratio = cfg["num_train_timesteps"] // n
    return [int(round(i * ratio)) + cfg["steps_offset"] for i in range(n)][::-1]


def add_noise(x0, noise, t, acp):
    a = acp[t].view(-1, *([1] * (x0.dim() - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


class Sampler:
    def __init__(self, kind, n, cfg=SD_SCHEDULER_CONFIG):
        self.kind, self.n, self.cfg = kind, n, cfg
        self.acp = alphas_cumprod(cfg)
        self.timesteps = leading_timesteps(n, cfg)
        self.ratio = cfg["num_train_timesteps"] // n
        self.final_alpha = torch.tensor(1.0) if cfg["set_alpha_to_one"] else self.acp[0]

    def step(self, eps, t, x, noise=None):
        prev_t = t - self.ratio
        a_t = self.acp[t]
        if self.kind == "ddim":
            a_prev = self.acp[prev_t] if prev_t >= 0 else self.final_alpha
            x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        a_prev = self.acp[prev_t] if prev_t >= 0 else torch.tensor(1.0)
        beta = 1 - a_t / a_prev
        x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        mean = (a_prev.sqrt() * beta / (1 - a_t)) * x0 + ((a_t / a_prev).sqrt() * (1 - a_prev) / (1 - a_t)) * x
        if t > 0:
            var = torch.clamp((1 - a_prev) / (1 - a_t) * beta, min=1e-20)
            mean = mean + var.sqrt() * noise
        return mean


@torch.no_grad()
def sample(unet, x_T, sampler, cond=None, uncond=None, guidance=1.0, step_noises=None, chunk=256):
    """Runs the loop; cond/uncond are encoder_hidden_states [B,L,D] (None for unconditional U-Nets).
    step_noises: list of per-step noise tensors for DDPM (index i for the i-th timestep)."""
    x = x_T
    for i, t in enumerate(sampler.timesteps):
        eps = torch.cat([_eps(unet, x[s:s + chunk], t,
                              None if cond is None else cond[s:s + chunk],
                              None if uncond is None else uncond[s:s + chunk], guidance)
                         for s in range(0, x.shape[0], chunk)])
        x = sampler.step(eps, t, x, None if step_noises is None else step_noises[i])
    return x


def _eps(unet, x, t, cond, uncond, guidance):
    tt = torch.full((x.shape[0],), float(t), dtype=torch.float32)
    if cond is None:
        return unet(x, tt)
    if guidance == 1.0 or uncond is None:
        return unet(x, tt, cond)
    both = unet(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([uncond, cond]))
    e_u, e_c = both.chunk(2)
    return e_u + guidance * (e_c - e_u)
