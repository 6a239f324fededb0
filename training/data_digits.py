"""sklearn's 8x8 handwritten digits as 1x32x32 images in [-1, 1] (background = -1)."""
import numpy as np
import torch
import torch.nn.functional as F

IMAGE_SIZE = 32


def load_real(seed=0, test_fraction=0.2):
    """All 1797 digits upsampled (bilinear) to 32x32, plus a fixed stratified train/test split.

    Returns (images float32 [N,1,32,32] in [-1,1], labels int64 [N], train_idx, test_idx)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]
    x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False).clamp(0, 1)
    images = (x * 2 - 1).numpy()
    labels = d.target.astype(np.int64)
    idx = np.arange(len(labels))
    train_idx, test_idx = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)
    return images, labels, np.sort(train_idx), np.sort(test_idx)


def augment(images, copies, seed):
    """Small random rotations (+-12 deg), scales (0.9-1.1) and shifts (+-2 px), done in [0,1] so the
    padding is background. Returns the originals followed by `copies` augmented copies."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.from_numpy(images) + 1) / 2
    out = [x]
    for _ in range(copies):
        n = x.shape[0]
        ang = (torch.rand(n, generator=g) * 2 - 1) * (12 * np.pi / 180)
        sc = 0.9 + torch.rand(n, generator=g) * 0.2
        sh = (torch.rand(n, 2, generator=g) * 2 - 1) * (2.0 / (IMAGE_SIZE / 2))
        cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
        theta = torch.stack([torch.stack([cos, -sin, sh[:, 0]], 1), torch.stack([sin, cos, sh[:, 1]], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        out.append(F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False))
    return (torch.cat(out).clamp(0, 1) * 2 - 1).numpy()


NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PROMPT_TEMPLATES = ["{w}", "digit {w}", "a digit {w}", "a {w}", "the digit {w}", "a handwritten {w}",
                    "handwritten digit {w}", "number {w}", "the number {w}", "a handwritten digit {w}"]


def prompt_for(label, rng):
    t = PROMPT_TEMPLATES[rng.integers(len(PROMPT_TEMPLATES))]
    return t.format(w=NUMBER_WORDS[int(label)])
