"""Trains the VAE of a dataset: python3 train_vae.py digits|audio [--mode quick|full]"""
import math
import time

import torch

from pipelines import DATASETS, budget, ckpt, load_data, record, start_stage
from vae import AutoencoderKL, vae_loss

KL_WEIGHT = 1e-3


def main():
    args, t0 = start_stage("dataset", DATASETS)
    cfg = DATASETS[args.dataset]["vae"]
    data = load_data(args.dataset)
    x = torch.from_numpy(data["train"])
    vae = AutoencoderKL(cfg)
    steps, batch = budget(args.mode, "vae", args.dataset), budget(args.mode, "vae_batch", args.dataset)
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0, foreach=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * s / steps))))
    g = torch.Generator().manual_seed(1)
    for step in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=g)
        loss, rec, kl = vae_loss(vae, x[idx], KL_WEIGHT, g)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step} rec {rec:.5f} kl {kl:.4f} {time.time() - t0:.0f}s", flush=True)
    vae.eval()
    with torch.no_grad():
        real = torch.from_numpy(data["real"])
        means = torch.cat([vae.encode_moments(real[s:s + 256])[0] for s in range(0, len(real), 256)])
        rec = torch.cat([vae.decode(means[s:s + 256]) for s in range(0, len(means), 256)])
        test = torch.from_numpy(data["test_idx"])
        rec_mse = float(((rec - real) ** 2)[test].mean())
        scaling = float(1.0 / means.std())
    print(f"scaling_factor {scaling:.5f} test reconstruction mse {rec_mse:.5f}")
    torch.save({"state": vae.state_dict(), "scaling_factor": scaling, "rec_mse_test": rec_mse}, ckpt(f"{args.dataset}_vae.pt"))
    record(f"vae:{args.dataset}", time.time() - t0, {"steps": steps, "batch": batch, "scaling_factor": scaling,
                                                     "test_reconstruction_mse": rec_mse,
                                                     "params": sum(p.numel() for p in vae.parameters())})


if __name__ == "__main__":
    main()
