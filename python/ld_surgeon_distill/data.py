"""Training data: clean latents x0 (+ conditions), and the deterministic per-step batches drawn from them.

Data-free (default): the teacher samples x0 with DDIM from seeded noise (sample i always from seed (seed, i), so
the set does not depend on the number of processes), conditions drawn as in conditions.py.

--data DIR: a folder of
  *.png         8/16-bit grayscale/RGB(A) images, scaled to the pipeline's data range [-1, 1] and matched to the
                VAE encoder's channel count (gray <-> RGB), then encoded (vae_encoder, x scaling factor);
  *.npy         float arrays in data space ([-1, 1]), [C, H, W] or a stack [N, C, H, W], encoded like PNGs;
  *.wav         audio pipelines: PCM WAV clips turned into the pipeline's log-mel features by its mel_params.json
                (audio.py), then encoded like PNGs;
  *.latent.npy  U-Net latents (already scaled), [C, H, W] or [N, C, H, W]; no VAE needed.
  conditions.json (conditional pipelines): {"<file name>": "prompt" | {"prompt": "..."} | {"label": k} | [one per
                stacked sample], "*": default}. Prompts go through the pipeline's tokenizer and text encoder;
                labels through its prompt template.
Every step's batch (indices, timesteps, noise) is a pure function of (seed, step, micro-step, rank), so a resumed
run sees exactly the batches an uninterrupted one would.
"""
import glob
import json
import os
import zlib
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from .conditions import Conditioner, cat_conds
from .onnx_import import OnnxModule
from .pipeline import Pipeline, PipelineError, load_npy
from .audio import wav_features
from .png import PngError, read_png
from .sampler import NoiseSchedule, sample


def mix_seed(*parts) -> int:
    """A stable 62-bit seed from ints and labels (Python's hash() is salted per process, so not that)."""
    words = []
    for p in parts:
        if isinstance(p, int):
            words += [p & 0xFFFFFFFF, (p >> 32) & 0xFFFFFFFF]
        else:
            words.append(zlib.crc32(str(p).encode()))
    a, b = np.random.SeedSequence(words).generate_state(2)
    return (int(a) << 31) ^ int(b)


def generator(*parts) -> torch.Generator:
    return torch.Generator().manual_seed(mix_seed(*parts))


class LatentData:
    def __init__(self, x0: torch.Tensor, cond: Optional[torch.Tensor], labels: Optional[torch.Tensor], source: str):
        self.x0, self.cond, self.labels, self.source = x0, cond, labels, source

    def __len__(self):
        return self.x0.shape[0]

    def state(self) -> Dict:
        return {"x0": self.x0, "cond": self.cond, "labels": self.labels, "source": self.source}

    @staticmethod
    def from_state(s: Dict) -> "LatentData":
        return LatentData(s["x0"], s["cond"], s["labels"], s["source"])


# --------------------------------------------------------------------------------------------- data-free

@torch.no_grad()
def generate(teacher: Callable, schedule: NoiseSchedule, conditioner: Optional[Conditioner], latent_shape: List[int],
             n: int, steps: int, guidance: float, seed: int, device: torch.device, batch: int = 32,
             rank: int = 0, world: int = 1, timestep_dtype=torch.float32,
             should_stop: Callable[[], bool] = lambda: False, progress: Callable[[int, int], None] = lambda a, b: None,
             gather: Optional[Callable] = None) -> Optional[LatentData]:
    """Samples this rank's share (i = rank, rank + world, ...) of n latents; `gather` merges the shares."""
    mine = list(range(rank, n, world))
    xs, cs, ls = [], [], []
    uncond_row = conditioner.uncond(1) if conditioner is not None and guidance != 1.0 else None
    rounds = -(-(-(-n // world)) // batch)  # the same on every rank: should_stop may be a collective call
    for r in range(rounds):
        if should_stop():
            return None
        s = r * batch
        idx = mine[s:s + batch]
        if not idx:
            continue
        gens = [generator(seed, "data", i) for i in idx]
        x_T = torch.stack([torch.randn(latent_shape, generator=g) for g in gens]).to(device)
        cond = labels = uncond = None
        if conditioner is not None:
            cond, labels = conditioner.sample(gens)
            if uncond_row is not None:
                uncond = uncond_row.expand(len(idx), *uncond_row.shape[1:])
        x0 = sample(teacher, schedule, x_T, steps, cond, uncond, guidance, timestep_dtype=timestep_dtype)
        xs.append(x0.float().cpu())
        cs.append(None if cond is None else cond.float().cpu())
        ls.append(labels)
        progress(min(s + batch, len(mine)), len(mine))
    part = {
        "idx": mine,
        "x0": torch.cat(xs) if xs else torch.zeros([0] + list(latent_shape)),
        "cond": cat_conds(cs) if cs and cs[0] is not None else None,
        "labels": torch.cat(ls) if ls and ls[0] is not None else None,
    }
    parts = gather(part) if gather else [part]
    order = sorted(((i, p, k) for p in parts for k, i in enumerate(p["idx"])), key=lambda r: r[0])
    x0 = torch.stack([p["x0"][k] for _, p, k in order])
    cond = cat_conds([p["cond"][k:k + 1] for _, p, k in order]) if parts[0]["cond"] is not None else None
    labels = torch.stack([p["labels"][k] for _, p, k in order]) if parts[0]["labels"] is not None else None
    return LatentData(x0, cond, labels, f"teacher DDIM samples ({n}, {steps} steps, guidance {guidance}, seed {seed})")


# -------------------------------------------------------------------------------------------- --data DIR

def _image_to_data(img: np.ndarray, channels: Optional[int], path: str) -> np.ndarray:
    maxv = 65535.0 if img.dtype == np.uint16 else 255.0
    x = img.astype(np.float32) / maxv
    if x.shape[2] in (2, 4):  # drop alpha
        x = x[:, :, :-1]
    if channels == 1 and x.shape[2] == 3:
        x = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None]
    elif channels == 3 and x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    elif channels is not None and x.shape[2] != channels:
        raise PipelineError(f"{path}: {x.shape[2]} channels, the VAE encoder takes {channels}")
    return (x.transpose(2, 0, 1) * 2 - 1).astype(np.float32)


def _conditions_for(table: Dict, name: str, count: int, path: str) -> List:
    entry = table.get(name, table.get("*"))
    if entry is None:
        raise PipelineError(f"{path}: no entry for '{name}' (and no '*' default) in conditions.json")
    if isinstance(entry, list):
        if len(entry) != count:
            raise PipelineError(f"{path}: conditions.json lists {len(entry)} conditions for '{name}', which "
                                f"holds {count} samples")
        return entry
    return [entry] * count


@torch.no_grad()
def load_dir(folder: str, pipeline: Optional[Pipeline], conditioner: Optional[Conditioner],
             latent_shape: List[int], scaling: float, device: torch.device) -> LatentData:
    if not os.path.isdir(folder):
        raise PipelineError(f"{folder}: not a folder")
    files = sorted(f for ext in ("png", "npy", "wav") for f in glob.glob(os.path.join(folder, f"*.{ext}")))
    if not files:
        raise PipelineError(f"{folder}: no .png, .npy or .wav files")
    table = {}
    cpath = os.path.join(folder, "conditions.json")
    if os.path.isfile(cpath):
        with open(cpath) as f:
            try:
                table = json.load(f)
            except json.JSONDecodeError as e:
                raise PipelineError(f"{cpath}: not valid JSON ({e})") from e
    if conditioner is not None and not table:
        raise PipelineError(f"{folder}: the U-Net is conditional; put a conditions.json beside the data "
                            f"(file name -> prompt or label)")
    encoder = None
    enc_channels = None
    mel = None  # the pipeline's audio feature recipe, read at the first .wav
    latents, conds = [], []
    for path in files:
        name = os.path.basename(path)
        if name.endswith(".latent.npy"):
            z = load_npy(path).astype(np.float32)
            z = z[None] if z.ndim == 3 else z
            if z.ndim != 4 or list(z.shape[1:]) != list(latent_shape):
                raise PipelineError(f"{path}: latents of shape {list(z.shape)}, the U-Net takes [N, "
                                    f"{', '.join(map(str, latent_shape))}]")
            z = torch.from_numpy(z)
        else:
            if encoder is None:
                if pipeline is None or not pipeline.vae_encoder:
                    raise PipelineError(f"{path}: images and audio need the pipeline's vae_encoder/model.onnx to become "
                                        f"latents (or give *.latent.npy files)")
                encoder = OnnxModule(pipeline.vae_encoder, trainable=False).to(device).eval()
                dims = encoder.input_info[encoder.input_names[0]]["dims"]
                enc_channels = dims[1] if dims and isinstance(dims[1], int) and dims[1] > 0 else None
            if name.endswith(".png"):
                try:
                    x = _image_to_data(read_png(path), enc_channels, path)[None]
                except PngError as e:
                    raise PipelineError(str(e)) from e
            elif name.endswith(".wav"):
                mel = mel or pipeline.mel_params()
                if mel is None:
                    raise PipelineError(f"{path}: the pipeline has no ld_surgeon.mel_params in model_index.json to "
                                        f"turn audio into its features; give the features as .npy files")
                x = wav_features(path, mel)[None]
            else:
                x = load_npy(path).astype(np.float32)
                x = x[None] if x.ndim == 3 else x
                if x.ndim != 4:
                    raise PipelineError(f"{path}: expected [C, H, W] or [N, C, H, W], got {list(x.shape)}")
            xs = torch.from_numpy(x).to(device)
            try:
                out = encoder.run({encoder.input_names[0]: xs})
            except RuntimeError as e:
                raise PipelineError(f"{path}: the VAE encoder cannot take this image ({e})") from e
            z = out[encoder.output_names[0]].float().cpu() * scaling
            if list(z.shape[1:]) != list(latent_shape):
                raise PipelineError(f"{path}: encodes to latents {list(z.shape[1:])}, the U-Net takes {latent_shape}")
        latents.append(z)
        if conditioner is not None:
            conds += _conditions_for(table, name, z.shape[0], cpath)
    x0 = torch.cat(latents)
    cond = labels = None
    if conditioner is not None:
        prompts, lab = [], []
        for c in conds:
            if isinstance(c, dict) and "label" in c:
                if not conditioner.words or not 0 <= int(c["label"]) < len(conditioner.words):
                    raise PipelineError(f"{cpath}: label {c['label']} needs the pipeline's prompt words")
                prompts.append(conditioner.template.format(word=conditioner.words[int(c["label"])]))
                lab.append(int(c["label"]))
            else:
                prompts.append(c["prompt"] if isinstance(c, dict) else str(c))
                lab.append(-1)
        cond = cat_conds([conditioner.for_prompts(prompts[s:s + 256]).cpu() for s in range(0, len(prompts), 256)])
        labels = torch.tensor(lab) if all(v >= 0 for v in lab) else None
    return LatentData(x0, cond, labels, f"{folder} ({len(x0)} samples)")


# ------------------------------------------------------------------------------------------------ batches

def batch_indices(n: int, batch: int, seed: int, position: int) -> List[int]:
    """Samples [position, position + batch) of the stream of per-epoch permutations of range(n)."""
    out = []
    epoch_cache = {}
    for p in range(position, position + batch):
        e, k = divmod(p, n)
        if e not in epoch_cache:
            epoch_cache[e] = torch.randperm(n, generator=generator(seed, "perm", e))
        out.append(int(epoch_cache[e][k]))
    return out


def training_batch(data: LatentData, schedule: NoiseSchedule, step: int, micro: int, accum: int, rank: int,
                   world: int, batch: int, seed: int, uncond: Optional[torch.Tensor], uncond_prob: float):
    """The batch of (step, micro-step, rank): x0, condition, t, noise. Deterministic: sample p of the global
    stream draws its timestep, noise and condition dropout from seed (seed, p), so N processes with batch B see
    exactly what one process with batch N*B sees."""
    position = ((step * accum + micro) * world + rank) * batch
    idx = batch_indices(len(data), batch, seed, position)
    x0 = data.x0[idx]
    ts, noises, drops = [], [], []
    for j in range(batch):
        g = generator(seed, "sample", position + j)
        ts.append(int(torch.randint(0, schedule.T, (1,), generator=g)))
        noises.append(torch.randn(x0.shape[1:], generator=g))
        drops.append(bool(torch.rand(1, generator=g) < uncond_prob))
    t = torch.tensor(ts, dtype=torch.long)
    noise = torch.stack(noises)
    cond = None
    if data.cond is not None:
        cond = data.cond[idx].clone()
        if uncond is not None and any(drops):
            cond[torch.tensor(drops)] = uncond.to(cond.dtype).cpu()
    return x0, cond, t, noise, idx
