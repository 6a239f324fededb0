"""Golden values for the TypeScript sampler: test/fixtures/golden/<pipeline>.json.

For each example pipeline: 4 initial latents x_T (stored), the conditioning (token ids, the empty
prompt's ids, guidance scale), and the final latents of a pure-PyTorch sampling loop (the same
weights as the committed ONNX U-Net) for
  - DDIM, 10 steps, eta 0;
  - DDPM, 10 steps (diffusers' DDPMScheduler.set_timesteps semantics), with every per-step noise
    z_t stored so the TS side can replay it.
The formulas are in scheduler.py's docstring, copied into the JSON as "formulas". Timesteps reach
the U-Net as float32 [B]; CFG runs the batch [uncond; cond]. Arrays are {"shape", "data"} with
data flattened in C order, each number the shortest decimal that round-trips to the float32.
Also stored: the U-Net's raw output at the first step, and the metric classifier's logits for the
decoded DDIM sample 0 (decoder input = final latents / scaling_factor, output clipped to [-1, 1]).

python3 make_golden.py [pipeline ...]"""
import json
import os
import sys

import numpy as np
import torch

import scheduler as sched_mod
from data_digits import NUMBER_WORDS
from export import load_models
from pipelines import DATASETS, PIPELINES, REPO, set_threads
from scheduler import SD_SCHEDULER_CONFIG, Sampler, sample
from tokenizer import WordTokenizer
from vae import AutoencoderKL

N = 4
STEPS = 10
OUT = os.path.join(REPO, "test", "fixtures", "golden")


class Raw(str):
    pass


def arr(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": Raw("[" + ",".join(str(v) for v in a.ravel()) + "]")}


def dumps(obj, indent=0):
    """json.dumps that writes Raw strings verbatim (float32 arrays without float64 noise digits)."""
    pad = " " * indent
    if isinstance(obj, Raw):
        return str(obj)
    if isinstance(obj, dict):
        items = [f'{pad} {json.dumps(k)}: {dumps(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, Raw)) for v in obj):
        return "[\n" + ",\n".join(pad + " " + dumps(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj)


def golden(name):
    set_threads()
    spec, vck, _, _, unet, text, clf = load_models(name)
    ds = spec["dataset"]
    C, H, W = DATASETS[ds]["latent_shape"]
    scale = vck["scaling_factor"]
    g = torch.Generator().manual_seed(20240411)
    x_T = torch.randn((N, C, H, W), generator=g)
    step_noise = torch.randn((STEPS, N, C, H, W), generator=g)
    cond = uncond = None
    out = {
        "pipeline": f"examples/{name}",
        "description": "Reference final latents from a pure-PyTorch sampling loop over the same U-Net weights as unet/model.onnx.",
        "formulas": sched_mod.__doc__.strip(),
        "scheduler_config": SD_SCHEDULER_CONFIG,
        "latent_scaling_factor": scale,
        "timestep_input": {"dtype": "float32", "shape": ["batch"]},
        "suggested_tolerance": {"atol": 2e-3, "rtol": 1e-3,
                                "why": "ONNX Runtime and PyTorch kernels differ in float32 rounding; 10 steps amplify it slightly"},
        "x_T": arr(x_T),
    }
    if text is not None:
        tok = WordTokenizer()
        prompts = [f"a digit {NUMBER_WORDS[k]}" for k in (7, 2, 0, 4)]
        ids = torch.tensor([tok.encode(p) for p in prompts])
        uids = torch.tensor([tok.encode("")] * N)
        with torch.no_grad():
            cond, uncond = text(ids), text(uids)
        out["conditioning"] = {"prompts": prompts, "input_ids": ids.tolist(), "uncond_prompt": "",
                               "uncond_input_ids": uids[0].tolist(), "guidance_scale": spec["guidance_scale"],
                               "cfg_batch_order": "[uncond; cond]",
                               "encoder_hidden_states_cond": arr(cond), "encoder_hidden_states_uncond": arr(uncond)}
    guidance = spec.get("guidance_scale", 1.0)
    # first-step raw U-Net output, for debugging a mismatch
    t0 = Sampler("ddim", STEPS).timesteps[0]
    with torch.no_grad():
        if text is not None:
            raw = unet(torch.cat([x_T, x_T]), torch.full((2 * N,), float(t0)), torch.cat([uncond, cond]))
        else:
            raw = unet(x_T, torch.full((N,), float(t0)))
    out["first_step"] = {"timestep": t0, "unet_out_sample": arr(raw),
                         "unet_batch": "[uncond; cond] (2N rows)" if text is not None else "N rows"}
    runs = []
    for kind in ("ddim", "ddpm"):
        s = Sampler(kind, STEPS)
        noises = list(step_noise) if kind == "ddpm" else None
        final = sample(unet, x_T, s, cond, uncond, guidance, step_noises=noises)
        run = {"scheduler": "DDIMScheduler" if kind == "ddim" else "DDPMScheduler", "num_inference_steps": STEPS,
               "timesteps": s.timesteps}
        if kind == "ddim":
            run["eta"] = 0.0
        else:
            run["variance_type"] = "fixed_small"
            run["step_noise"] = arr(step_noise)
            run["step_noise_note"] = "step_noise[i] is z for the i-th timestep in 'timesteps' (added since every t > 0)"
        run["final_latents"] = arr(final)
        runs.append(run)
        if kind == "ddim":
            vae = AutoencoderKL(DATASETS[ds]["vae"])
            vae.load_state_dict(vck["state"])
            vae.eval()
            with torch.no_grad():
                img = vae.decode(final[:1] / scale).clamp(-1, 1)
                logits, _ = clf(img)
            out["decoded_sample_0"] = {"from": "DDIM final_latents[0]", "classifier_logits": arr(logits[0]),
                                       "predicted_class": int(logits[0].argmax()),
                                       "decoded_mean": float(img.mean()), "decoded_std": float(img.std())}
    out["runs"] = runs
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"{name}.json")
    with open(path + ".tmp", "w") as f:
        f.write(dumps(out) + "\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path}: sample 0 decoded -> class {out['decoded_sample_0']['predicted_class']}")


if __name__ == "__main__":
    for n in sys.argv[1:] or sorted(PIPELINES):
        golden(n)
