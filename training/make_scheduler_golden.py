"""Golden values for the Euler and DPM-Solver++ schedulers: test/fixtures/golden/schedulers-euler-dpm.json.

Written from the published formulas (Karras et al. 2022 Algorithm 2 with s_churn = 0, as diffusers'
EulerDiscreteScheduler applies it; Lu et al. 2022 DPM-Solver++ multistep, data prediction, midpoint
second order, as DPMSolverMultistepScheduler applies it), independently of the TypeScript code.
Float32 rounding follows diffusers where it holds float32 arrays (betas, alphas_cumprod, sigmas);
the rest is float64. The "model" is a fixed toy function of the latents it sees and of t, so the
whole trajectory (state between steps included) is checked, not one step.

/usr/bin/python3 training/make_scheduler_golden.py"""
import json
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "test", "fixtures", "golden", "schedulers-euler-dpm.json")
SD = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "steps_offset": 1}


def alphas_cumprod(cfg):
    T = cfg["num_train_timesteps"]
    if cfg.get("beta_schedule", "linear") == "scaled_linear":
        root = np.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, T).astype(np.float32)
        betas = (root * root).astype(np.float32)
    else:
        betas = np.linspace(cfg["beta_start"], cfg["beta_end"], T).astype(np.float32)
    return np.cumprod((np.float32(1) - betas).astype(np.float32), dtype=np.float32)


def train_sigmas(cfg):
    ac = alphas_cumprod(cfg)
    return np.sqrt(((np.float32(1) - ac) / ac).astype(np.float32)).astype(np.float32)


def grid(cfg, n, extra_point):
    """Timesteps, descending. DPM-Solver lays out n+1 points and drops the smallest (extra_point)."""
    T, spacing = cfg["num_train_timesteps"], cfg.get("timestep_spacing", "leading")
    m = n + 1 if extra_point else n
    if spacing == "linspace":
        ts = np.linspace(0, T - 1, m)
        ts = np.round(ts) if extra_point else ts.astype(np.float32)
        ts = ts[::-1][:n]
    elif spacing == "leading":
        ratio = T // m
        ts = (np.arange(m) * ratio)[::-1][:n] + cfg.get("steps_offset", 0)
    else:
        ts = np.round(np.arange(T, 0, -T / n)) - 1
    return np.array(ts, dtype=np.float64)


def model(x, t, w):
    """toy denoiser: elementwise affine in x, smooth in t"""
    return w[0] * x + w[1] * np.sin(t / 300.0) + w[2]


def euler(cfg, n, x, w):
    table = train_sigmas(cfg).astype(np.float64)
    ts = grid(cfg, n, False)
    sig = np.concatenate([np.interp(ts, np.arange(len(table)), table), [0.0]]).astype(np.float32).astype(np.float64)
    init = sig.max() if cfg.get("timestep_spacing", "leading") != "leading" else np.float32(np.sqrt(sig.max() ** 2 + 1))
    x = x * float(init)
    for i, t in enumerate(ts):
        s = sig[i]
        out = model(x / np.sqrt(s * s + 1), t, w)
        if cfg.get("prediction_type", "epsilon") == "epsilon":
            x0 = x - s * out
        else:
            x0 = out * (-s / np.sqrt(s * s + 1)) + x / (s * s + 1)
        x = x + (x - x0) / s * (sig[i + 1] - s)
    return ts, sig, float(init), x


def dpm(cfg, n, x, w):
    table = train_sigmas(cfg).astype(np.float64)
    ts = grid(cfg, n, True)
    last = table[0] if cfg.get("final_sigmas_type", "zero") == "sigma_min" else 0.0
    sig = np.concatenate([np.interp(ts, np.arange(len(table)), table), [last]]).astype(np.float32).astype(np.float64)
    alpha = 1 / np.sqrt(sig * sig + 1)
    sd = sig * alpha
    with np.errstate(divide="ignore"):
        lam = np.log(alpha) - np.log(sd)
    prev = None
    for i, t in enumerate(ts):
        out = model(x, t, w)
        if cfg.get("prediction_type", "epsilon") == "epsilon":
            d = (x - sd[i] * out) / alpha[i]
        else:
            d = alpha[i] * x - sd[i] * out
        h = lam[i + 1] - lam[i]
        final = i == n - 1 and (cfg.get("final_sigmas_type", "zero") == "zero" or n < 15)
        first_order = prev is None or final
        x_new = (sd[i + 1] / sd[i]) * x - alpha[i + 1] * (np.exp(-h) - 1) * d
        if not first_order:
            r0 = (lam[i] - lam[i - 1]) / h
            x_new = x_new - 0.5 * alpha[i + 1] * (np.exp(-h) - 1) * (d - prev) / r0
        x, prev = x_new, d
    return ts, sig, 1.0, x


CASES = [
    ("euler", "EulerDiscreteScheduler", {**SD}, 10),
    ("euler", "EulerDiscreteScheduler", {**SD, "timestep_spacing": "trailing", "prediction_type": "v_prediction"}, 8),
    ("euler", "EulerDiscreteScheduler", {**SD, "timestep_spacing": "linspace"}, 7),
    ("dpm++", "DPMSolverMultistepScheduler", {**SD}, 10),
    ("dpm++", "DPMSolverMultistepScheduler", {**SD, "timestep_spacing": "linspace", "prediction_type": "v_prediction"}, 20),
    ("dpm++", "DPMSolverMultistepScheduler", {**SD, "timestep_spacing": "trailing", "final_sigmas_type": "sigma_min"}, 20),
    ("dpm++", "DPMSolverMultistepScheduler", {"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "linear"}, 25),
]


def main():
    rng = np.random.default_rng(19)
    x = rng.standard_normal(8)
    w = [-0.35, 0.4, 0.05]
    runs = []
    for name, cls, cfg, n in CASES:
        fn = euler if name == "euler" else dpm
        ts, sig, init, final = fn(cfg, n, x.copy(), w)
        runs.append({"scheduler": name, "config": {"_class_name": cls, **cfg}, "steps": n,
                     "timesteps": [float(v) for v in ts], "sigmas": [float(v) for v in sig],
                     "init_noise_sigma": init, "final": [float(v) for v in final]})
    doc = {"createdBy": "training/make_scheduler_golden.py", "model": "out = w0*x_in + w1*sin(t/300) + w2",
           "w": w, "initial": [float(v) for v in x], "runs": runs}
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
    print(OUT)


if __name__ == "__main__":
    main()
