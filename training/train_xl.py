"""Trains, exports and evaluates examples/digits-xl/: a small SDXL-shaped pipeline in Optimum's SDXL export layout.

python3 train_xl.py [--mode quick|full]
Two CLIP-shaped text encoders (xl_text_encoder.py), each with its own word-level tokenizer, trained jointly with a
U-Net that has SDXL's added conditions (unet.py, addition_embed_type "text_time": add_embedding of the pooled
text_embeds + the sinusoidal time_ids, added to the timestep embedding) and SDXL's block layout (no attention in
the first down block, deeper transformer stacks further down). The conditions are built as diffusers'
StableDiffusionXLPipeline builds them: encoder_hidden_states = both encoders' hidden_states[-2] concatenated on the
feature axis, text_embeds = encoder 2's projected pooled output, time_ids = original_size + crops_coords_top_left
+ target_size; with force_zeros_for_empty_prompt the negative conditions are zeros, so the 10% dropped prompts
are zeros here too. VAE, metric classifier and statistics are digits-cond's shipped files (imported from ONNX
with the trainer's importer), so FID compares with the other digits examples. Epsilon loss (min-SNR-5), AdamW,
warmup + cosine, EMA weights exported. Evaluated with the scheduler the folder ships (Euler, 25 steps; --ddim adds
DDIM 25 steps, as the other examples are evaluated)."""
import copy
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
from ld_surgeon_distill.onnx_import import import_model  # noqa: E402

from classifier import feature_stats, frechet_distance, predict  # noqa: E402
from data_digits import NUMBER_WORDS, prompt_for  # noqa: E402
from onnx_export import OPSET, export  # noqa: E402
from pipelines import CACHE, EXAMPLES, load_data, record, set_threads  # noqa: E402
from png import grid, write_png_gray  # noqa: E402
from optim import ema_update, noised_batch, warmup_cosine  # noqa: E402
from scheduler import SD_SCHEDULER_CONFIG, Sampler, add_noise, alphas_cumprod, sample  # noqa: E402
from tokenizer import WordTokenizer  # noqa: E402
from unet import UNet2DConditionModel, UNetConfig, count_parameters  # noqa: E402
from xl_text_encoder import XLTextEncoder  # noqa: E402

SRC = os.path.join(EXAMPLES, "digits-cond")
OUT = os.path.join(EXAMPLES, "digits-xl")
TEXT_DIM = 32          # each encoder's width; encoder_hidden_states are both concatenated (64)
POOLED_DIM = 32        # encoder 2's text_projection
TIME_EMBED_DIM = 8     # addition_time_embed_dim: 6 time ids x 8 -> 48
UNET = UNetConfig(
    sample_size=8, block_out_channels=(32, 48, 64), layers_per_block=1, norm_num_groups=16,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    cross_attention_dim=2 * TEXT_DIM, attention_head_dim=4, transformer_layers_per_block=(1, 1, 2),
    addition_embed_type="text_time", addition_time_embed_dim=TIME_EMBED_DIM,
    projection_class_embeddings_input_dim=POOLED_DIM + 6 * TIME_EMBED_DIM)
IMAGE_SIZE = 32
# micro-conditioning (pixels): the digits are 32x32 and never cropped
MICRO = {"original_size": [IMAGE_SIZE, IMAGE_SIZE], "crops_coords_top_left": [0, 0], "target_size": [IMAGE_SIZE, IMAGE_SIZE]}
BUDGET = {"quick": {"steps": 150, "batch": 32, "eval": 100}, "full": {"steps": 800, "batch": 128, "eval": 400}}
GUIDANCE = 3.0
EVAL_STEPS = 25
MIN_SNR_GAMMA = 5.0
COND_DROPOUT = 0.1
EULER_SCHEDULER_CONFIG = {
    "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.21.0",
    "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "trained_betas": None, "prediction_type": "epsilon", "interpolation_type": "linear", "use_karras_sigmas": False,
    "timestep_spacing": "leading", "steps_offset": 1, "clip_sample": False, "sample_max_value": 1.0,
    "set_alpha_to_one": False,
}


def time_ids(n):
    return torch.tensor([MICRO["original_size"] + MICRO["crops_coords_top_left"] + MICRO["target_size"]],
                        dtype=torch.float32).expand(n, 6)


class XLModel(torch.nn.Module):
    """U-Net + both text encoders, trained together; forward(x, t, ids, keep) with keep[B] False for the rows whose
    conditions are the zeros of the empty prompt (force_zeros_for_empty_prompt)."""

    def __init__(self, unet, te1, te2):
        super().__init__()
        self.unet, self.text_encoder, self.text_encoder_2 = unet, te1, te2

    def conditions(self, ids):
        o2 = self.text_encoder_2(ids)
        hidden = torch.cat([self.text_encoder.penultimate(ids), o2["hidden_states"][-2]], dim=-1)
        return hidden, o2["text_embeds"]

    def forward(self, x, t, ids, keep):
        hidden, pooled = self.conditions(ids)
        k = keep.to(hidden.dtype)
        return self.unet(x, t, hidden * k[:, None, None], pooled * k[:, None], time_ids(x.shape[0]))


def euler_sample(unet_fn, x_T, n_steps, cfg=EULER_SCHEDULER_CONFIG):
    """diffusers' EulerDiscreteScheduler ('leading', epsilon), as src/core/pipeline/schedulers/euler.ts."""
    acp = alphas_cumprod(SD_SCHEDULER_CONFIG).double()
    sig_table = ((1 - acp) / acp).sqrt()
    ratio = cfg["num_train_timesteps"] // n_steps
    ts = [(n_steps - 1 - i) * ratio + cfg["steps_offset"] for i in range(n_steps)]
    sigmas = [float(sig_table[t]) for t in ts] + [0.0]
    x = x_T * math.sqrt(max(sigmas) ** 2 + 1)
    for i, t in enumerate(ts):
        eps = unet_fn(x / math.sqrt(sigmas[i] ** 2 + 1), t)
        x = x + eps * (sigmas[i + 1] - sigmas[i])
    return x


def encode_latents(vae_enc, scale):
    """The training latents through digits-cond's VAE encoder, cached (encoding them is minutes on this machine)."""
    path = os.path.join(CACHE, "digits_xl_latents.pt")
    data = load_data("digits")
    if os.path.exists(path):
        lat = torch.load(path)
    else:
        with torch.no_grad():
            x = torch.from_numpy(data["train"])
            lat = torch.cat([vae_enc(x[s:s + 512]) for s in range(0, len(x), 512)]) * scale
        os.makedirs(CACHE, exist_ok=True)
        torch.save(lat, path + ".tmp")
        os.replace(path + ".tmp", path)
    return lat, data["train_labels"]


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="full", choices=["quick", "full"])
    ap.add_argument("--steps", type=int, help="override the mode's step count")
    ap.add_argument("--ddim", action="store_true", help="also evaluate with DDIM, 25 steps (as the other examples)")
    args = ap.parse_args()
    set_threads()
    torch.manual_seed(0)
    t0 = time.time()
    b = dict(BUDGET[args.mode])
    if args.steps:
        b["steps"] = args.steps
    vae_enc = import_model(os.path.join(SRC, "vae_encoder", "model.onnx"), trainable=False).eval()
    vae_dec = import_model(os.path.join(SRC, "vae_decoder", "model.onnx"), trainable=False).eval()
    clf = import_model(os.path.join(SRC, "metrics", "classifier.onnx"), trainable=False).eval()
    scale = json.load(open(os.path.join(SRC, "vae_decoder", "config.json")))["scaling_factor"]
    lat, labels = encode_latents(vae_enc, scale)
    print(f"latents {tuple(lat.shape)} in {time.time() - t0:.0f}s", flush=True)

    tok = WordTokenizer()
    eos = tok.vocab["<end>"]
    te1 = XLTextEncoder(len(tok.vocab), tok.max_length, TEXT_DIM, num_layers=2, heads=2, eos_token_id=eos)
    te2 = XLTextEncoder(len(tok.vocab), tok.max_length, TEXT_DIM, num_layers=2, heads=2, eos_token_id=eos,
                        projection_dim=POOLED_DIM)
    model = XLModel(UNet2DConditionModel(UNET), te1, te2)
    ema = copy.deepcopy(model).eval()
    params, ema_params = list(model.parameters()), list(ema.parameters())
    n_unet = count_parameters(model.unet)
    print(f"unet params {n_unet}, text encoders {count_parameters(te1)} + {count_parameters(te2)}", flush=True)
    # few large steps: on this shared CPU a step costs little more at batch 128 than at 48 (0.45 vs 0.28 CPU s)
    opt = torch.optim.AdamW(params, lr=1.5e-3, weight_decay=0.0, foreach=True)
    steps = b["steps"]
    sched = warmup_cosine(opt, steps, warm=min(100, steps // 10))
    acp = alphas_cumprod()
    g = torch.Generator().manual_seed(3)
    rng = np.random.default_rng(4)
    losses = []
    for step in range(steps):
        idx, z0, noise, t = noised_batch(lat, b["batch"], g)
        ids = torch.tensor([tok.encode(prompt_for(labels[i], rng)) for i in idx.tolist()])
        keep = torch.from_numpy(rng.random(b["batch"]) >= COND_DROPOUT)
        pred = model(add_noise(z0, noise, t, acp), t.float(), ids, keep)
        snr = acp[t] / (1 - acp[t])
        loss = ((torch.clamp(snr, max=MIN_SNR_GAMMA) / snr) * ((pred - noise) ** 2).mean(dim=(1, 2, 3))).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        ema_update(ema_params, params, step)
        losses.append(loss.item())
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step} loss(avg100) {np.mean(losses[-100:]):.4f} {time.time() - t0:.0f}s", flush=True)
    train_s = time.time() - t0
    torch.save({"state": ema.state_dict(), "steps": steps}, os.path.join(CACHE, "digits_xl_model.pt"))

    tmp = OUT + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for part in ("vae_encoder", "vae_decoder", "metrics"):
        shutil.copytree(os.path.join(SRC, part), os.path.join(tmp, part))
    for folder in ("tokenizer", "tokenizer_2"):
        tok.save(os.path.join(tmp, folder))
    write_json(os.path.join(tmp, "scheduler", "scheduler_config.json"), EULER_SCHEDULER_CONFIG)
    example_ids = torch.tensor([tok.encode("a digit seven"), tok.encode("")])
    for name, enc in (("text_encoder", ema.text_encoder), ("text_encoder_2", ema.text_encoder_2)):
        enc.export_tuple = True
        export(enc, (example_ids,), os.path.join(tmp, name, "model.onnx"), ["input_ids"], enc.output_names())
        enc.export_tuple = False
        write_json(os.path.join(tmp, name, "config.json"), {
            "_class_name": "CLIPTextModelWithProjection" if enc.text_projection is not None else "CLIPTextModel",
            "architecture": "training/xl_text_encoder.py (CLIP-shaped: pre-LN layers, no causal mask)",
            "vocab_size": len(tok.vocab), "max_position_embeddings": tok.max_length, "hidden_size": TEXT_DIM,
            "num_hidden_layers": len(enc.encoder.layers), "num_attention_heads": 2, "eos_token_id": eos,
            **({"projection_dim": POOLED_DIM} if enc.text_projection is not None else {}),
            "output_hidden_states": True})
    unet_args = (torch.randn(2, 4, 8, 8), torch.tensor([999.0, 1.0]), torch.randn(2, 8, 2 * TEXT_DIM),
                 torch.randn(2, POOLED_DIM), time_ids(2).clone())
    export(ema.unet, unet_args, os.path.join(tmp, "unet", "model.onnx"),
           ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids"], ["out_sample"])
    write_json(os.path.join(tmp, "unet", "config.json"), {**UNET.to_json_dict(), "timestep_dtype": "float32"})

    n = b["eval"]
    ev_labels = np.arange(n) % 10
    gen = torch.Generator().manual_seed(1234)
    x_T = torch.randn((n, 4, 8, 8), generator=gen)
    with torch.no_grad():
        hidden, pooled = ema.conditions(torch.tensor([tok.encode(f"a digit {NUMBER_WORDS[int(k)]}") for k in ev_labels]))
        tid = time_ids(2 * n)

        def eps(x, t):  # classifier-free guidance on [zeros; cond], as diffusers' SDXL pipeline batches it
            tt = torch.full((2 * x.shape[0],), float(t))
            both = ema.unet(torch.cat([x, x]), tt, torch.cat([torch.zeros_like(hidden), hidden]),
                            torch.cat([torch.zeros_like(pooled), pooled]), tid)
            e_u, e_c = both.chunk(2)
            return e_u + GUIDANCE * (e_c - e_u)

        results = {}
        for kind in ("euler", "ddim") if args.ddim else ("euler",):
            if kind == "euler":
                z = euler_sample(eps, x_T, EVAL_STEPS)
            else:
                z = sample(lambda x, t, c: eps(x, t[0]), x_T, Sampler("ddim", EVAL_STEPS), hidden, hidden, 1.0, chunk=n)
            imgs = torch.cat([vae_dec(z[s:s + 200] / scale) for s in range(0, n, 200)]).clamp(-1, 1).numpy()
            logits, feats = predict(clf, imgs)
            mu, cov = feature_stats(feats)
            mu_r = np.load(os.path.join(SRC, "metrics", "real_features_mean.npy"))
            cov_r = np.load(os.path.join(SRC, "metrics", "real_features_cov.npy"))
            results[kind] = {"frechet": float(frechet_distance(mu, cov, mu_r, cov_r)), "n": n,
                             "class_accuracy": float((logits.argmax(1) == ev_labels).mean())}
            if kind == "euler":
                sel = np.concatenate([np.nonzero(ev_labels == k)[0][:10] for k in range(10)])
                write_png_gray(os.path.join(tmp, "samples.png"), grid(imgs[sel], 10, 10, scale=2))
            print(f"{kind}: {results[kind]}", flush=True)

    index = json.load(open(os.path.join(SRC, "model_index.json")))
    src_ld = index["ld_surgeon"]
    index = {
        "_class_name": "ORTStableDiffusionXLPipeline", "_diffusers_version": "0.21.0",
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "text_encoder": ["diffusers", "OnnxRuntimeModel"], "text_encoder_2": ["diffusers", "OnnxRuntimeModel"],
        "tokenizer": ["ld_surgeon", "WordLevelTokenizer"], "tokenizer_2": ["ld_surgeon", "WordLevelTokenizer"],
        "unet": ["diffusers", "OnnxRuntimeModel"],
        "vae_decoder": ["diffusers", "OnnxRuntimeModel"], "vae_encoder": ["diffusers", "OnnxRuntimeModel"],
        "force_zeros_for_empty_prompt": True, "add_watermarker": False,
    }
    ld = {k: src_ld[k] for k in ("task", "latent_shape", "latent_scaling_factor", "data_shape", "data_value_range",
                                 "prompt_template", "prompt_words", "negative_prompt", "metric")}
    ld.update({
        **MICRO,
        "guidance_scale": GUIDANCE,
        "samples_png": "samples.png",
        "unet_inputs": {"sample": ["batch", 4, 8, 8], "timestep": {"dtype": "float32", "shape": ["batch"]},
                        "encoder_hidden_states": ["batch", 8, 2 * TEXT_DIM], "text_embeds": ["batch", POOLED_DIM],
                        "time_ids": ["batch", 6]},
        "unet_output": "out_sample (predicted noise, epsilon)",
        "conditions": "encoder_hidden_states = hidden_states.1 of text_encoder ++ hidden_states.1 of text_encoder_2 "
                      "(the penultimate layers); text_embeds = text_encoder_2's text_embeds; time_ids = "
                      "original_size + crops_coords_top_left + target_size; zeros for the empty prompt",
        "results": {
            "sampler": f"Euler (the shipped scheduler), {EVAL_STEPS} steps, guidance {GUIDANCE}, prompt 'a digit <word>'",
            "generated": results["euler"],
            **({"generated_ddim": results["ddim"]} if "ddim" in results else {}),
            "unet_example_generated_frechet": src_ld["results"]["generated"]["frechet"],
        },
        "parameters": {"unet": n_unet, "vae_encoder": src_ld["parameters"]["vae_encoder"],
                       "vae_decoder": src_ld["parameters"]["vae_decoder"],
                       "text_encoder": count_parameters(ema.text_encoder),
                       "text_encoder_2": count_parameters(ema.text_encoder_2)},
        "training": {"mode": args.mode, "steps": steps, "batch": b["batch"], "seconds": round(train_s, 1),
                     "scripts": "training/train_xl.py",
                     "reused": "vae_encoder, vae_decoder, metrics from digits-cond"},
        "opset": OPSET,
    })
    index["ld_surgeon"] = ld
    write_json(os.path.join(tmp, "model_index.json"), index)
    shutil.rmtree(OUT, ignore_errors=True)
    os.replace(tmp, OUT)
    record("xl:digits-xl", time.time() - t0, {"steps": steps, "batch": b["batch"], "train_seconds": round(train_s, 1),
                                              "final_loss_avg200": float(np.mean(losses[-200:])), "unet_params": n_unet,
                                              **results})
    print(f"{results} (n={n}); wrote {OUT} in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
