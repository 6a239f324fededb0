"""Trains a pipeline's U-Net (and, for the conditional one, its text encoder) on VAE latents.

python3 train_unet.py digits-cond|digits-uncond|audio-digits [--mode quick|full]
epsilon-prediction DDPM loss (min-SNR-5 weighted) with SD 1.x's scaled-linear schedule; AdamW, warmup + cosine;
EMA weights (what gets exported). Conditional: 10% of prompts replaced by the empty prompt so
classifier-free guidance works."""
import copy
import time

import numpy as np
import torch

from data_digits import prompt_for
from pipelines import DATASETS, PIPELINES, budget, ckpt, load_data, record, start_stage
from optim import ema_update, warmup_cosine
from scheduler import add_noise, alphas_cumprod
from text_encoder import TextEncoder
from tokenizer import WordTokenizer
from unet import UNet2DConditionModel, count_parameters
from vae import AutoencoderKL

COND_DROPOUT = 0.1
MIN_SNR_GAMMA = 5.0


class CondModel(torch.nn.Module):
    """U-Net + text encoder, trained together."""

    def __init__(self, unet, text_encoder):
        super().__init__()
        self.unet = unet
        self.text_encoder = text_encoder


def main():
    args, t0 = start_stage("pipeline", PIPELINES)
    spec = PIPELINES[args.pipeline]
    ds = spec["dataset"]
    data = load_data(ds)
    vae_ck = torch.load(ckpt(f"{ds}_vae.pt"))
    vae = AutoencoderKL(DATASETS[ds]["vae"])
    vae.load_state_dict(vae_ck["state"])
    vae.eval()
    scale = vae_ck["scaling_factor"]
    with torch.no_grad():
        x = torch.from_numpy(data["train"])
        moments = [vae.encode_moments(x[s:s + 256]) for s in range(0, len(x), 256)]
        mean = torch.cat([m[0] for m in moments])
        std = torch.cat([torch.exp(0.5 * m[1]) for m in moments])
    labels = data["train_labels"]

    tok = WordTokenizer()
    unet = UNet2DConditionModel(spec["unet"])
    text = TextEncoder(len(tok.vocab), tok.max_length, spec["unet"].cross_attention_dim) if spec["conditional"] else None
    model = CondModel(unet, text) if text is not None else unet
    ema = copy.deepcopy(model).eval()
    params, ema_params = list(model.parameters()), list(ema.parameters())
    print(f"{args.pipeline}: unet params {count_parameters(unet)}, latents {tuple(mean.shape)}", flush=True)

    steps, batch = budget(args.mode, "unet", args.pipeline), budget(args.mode, "batch", args.pipeline)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0, foreach=True)
    sched = warmup_cosine(opt, steps, warm=min(200, steps // 10))
    acp = alphas_cumprod()
    g = torch.Generator().manual_seed(3)
    rng = np.random.default_rng(4)
    empty = tok.encode("")
    losses = []
    for step in range(steps):
        idx = torch.randint(0, len(mean), (batch,), generator=g)
        z0 = (mean[idx] + std[idx] * torch.randn(mean[idx].shape, generator=g)) * scale
        noise = torch.randn(z0.shape, generator=g)
        t = torch.randint(0, 1000, (batch,), generator=g)
        zt = add_noise(z0, noise, t, acp)
        if text is not None:
            ids = [empty if rng.random() < COND_DROPOUT else tok.encode(prompt_for(labels[i], rng)) for i in idx.tolist()]
            pred = unet(zt, t.float(), text(torch.tensor(ids)))
        else:
            pred = unet(zt, t.float())
        # min-SNR-5 weighting (Hang et al. 2023) of the epsilon loss: faster convergence on a tight budget
        snr = acp[t] / (1 - acp[t])
        w = torch.clamp(snr, max=MIN_SNR_GAMMA) / snr
        loss = (w * ((pred - noise) ** 2).mean(dim=(1, 2, 3))).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        ema_update(ema_params, params, step)
        losses.append(loss.item())
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step} loss(avg100) {np.mean(losses[-100:]):.4f} {time.time() - t0:.0f}s", flush=True)
    state = {"unet": (ema.unet if text is not None else ema).state_dict()}
    if text is not None:
        state["text_encoder"] = ema.text_encoder.state_dict()
    torch.save({**state, "final_loss": float(np.mean(losses[-200:])), "steps": steps}, ckpt(f"{args.pipeline}_unet.pt"))
    record(f"unet:{args.pipeline}", time.time() - t0, {"steps": steps, "batch": batch,
                                                       "final_loss_avg200": float(np.mean(losses[-200:])),
                                                       "unet_params": count_parameters(unet)})


if __name__ == "__main__":
    main()
