"""The three example pipelines: data, model configs and training budgets in one place."""
import json
import os
import time

import numpy as np

from unet import UNetConfig
from vae import VAEConfig

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CACHE = os.path.join(HERE, "cache")
EXAMPLES = os.path.join(REPO, "examples")

DATASETS = {
    "digits": {
        "vae": VAEConfig(in_channels=1, out_channels=1, block_out_channels=(16, 32, 32), norm_num_groups=8, sample_size=32),
        "latent_shape": (4, 8, 8),
        "metric": "FID",
    },
    "audio": {
        "vae": VAEConfig(in_channels=1, out_channels=1, block_out_channels=(16, 32, 48), norm_num_groups=8, sample_size=64),
        "latent_shape": (4, 16, 16),
        "metric": "FAD",
    },
}

PIPELINES = {
    "digits-cond": {
        "dataset": "digits", "conditional": True, "task": "text-to-image",
        "unet": UNetConfig(sample_size=8, block_out_channels=(32, 48, 64), norm_num_groups=16,
                           cross_attention_dim=64, attention_head_dim=4),
        "guidance_scale": 3.0,
    },
    "digits-uncond": {
        "dataset": "digits", "conditional": False, "task": "unconditional-image",
        "unet": UNetConfig(sample_size=8, block_out_channels=(32, 48, 64), norm_num_groups=16,
                           cross_attention_dim=None, attention_head_dim=4),
    },
    "audio-digits": {
        "dataset": "audio", "conditional": False, "task": "unconditional-audio",
        "unet": UNetConfig(sample_size=16, block_out_channels=(32, 48, 64), norm_num_groups=16,
                           cross_attention_dim=None, attention_head_dim=4,
                           down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                           up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D")),
    },
}

# Steps per stage; "quick" gives correctly shaped but barely trained models in a few minutes.
# Sized for a shared 2-core machine (see RESULTS.md for the wall times they took).
BUDGETS = {
    "quick": {"vae": 100, "classifier": 150, "unet": 150, "vae_batch": {"digits": 64, "audio": 16},
              "batch": {"digits-cond": 64, "digits-uncond": 64, "audio-digits": 32}, "eval_samples": 100},
    "full": {"vae": {"digits": 1000, "audio": 800}, "classifier": 500,
             "vae_batch": {"digits": 64, "audio": 16},
             "unet": {"digits-cond": 3000, "digits-uncond": 4000, "audio-digits": 3500},
             "batch": {"digits-cond": 64, "digits-uncond": 64, "audio-digits": 32}, "eval_samples": 400},
}


def budget(mode, stage, key):
    v = BUDGETS[mode][stage]
    return v[key] if isinstance(v, dict) else v


def load_data(name, seed=0):
    """Returns dict(real=[N,1,H,W] float32 in [-1,1], labels, train_idx, test_idx, train=training images)."""
    if name == "digits":
        from data_digits import augment, load_real
        real, labels, tr, te = load_real(seed)
        train = augment(real[tr], copies=8, seed=seed + 1)
        train_labels = np.tile(labels[tr], 9)
    elif name == "audio":
        from data_audio import build
        real, labels, tr, te, _ = build()
        train, train_labels = real[tr], labels[tr]
    else:
        raise ValueError(name)
    return {"real": real, "labels": labels, "train_idx": tr, "test_idx": te,
            "train": train.astype(np.float32), "train_labels": train_labels}


def ckpt(name):
    os.makedirs(CACHE, exist_ok=True)
    return os.path.join(CACHE, name)


def record(stage, seconds, extra=None):
    """Appends a stage's wall time (and numbers) to cache/results.json, rendered by write_results.py."""
    path = ckpt("results.json")
    data = json.load(open(path)) if os.path.exists(path) else {}
    data[stage] = {"seconds": round(seconds, 1), **(extra or {})}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


class Timer:
    def __enter__(self):
        self.t0 = time.time()
        return self

    def __exit__(self, *a):
        self.seconds = time.time() - self.t0


def set_threads():
    """Threads per process (TRAIN_THREADS, default 1: with the 2 cores shared by other jobs, a second OpenMP/OpenBLAS thread
    made steps several times slower through oversubscription).
    Results are deterministic for a given thread count."""
    import torch

    torch.set_num_threads(int(os.environ.get("TRAIN_THREADS", "1")))


def start_stage(target, choices, seed=0):
    """What every build stage does first: read its command line (`python3 STAGE.py TARGET [--mode quick|full]`,
    TARGET one of `choices`), set the thread count and, unless `seed` is None, torch's seed.
    Returns the arguments and the start time that the stage's record() is measured from."""
    import argparse

    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument(target, choices=sorted(choices))
    ap.add_argument("--mode", default="full", choices=["quick", "full"])
    args = ap.parse_args()
    set_threads()
    if seed is not None:
        torch.manual_seed(seed)
    return args, time.time()
