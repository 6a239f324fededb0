"""Grayscale PNG grids written with zlib only (no image library is installed for this python)."""
import struct
import zlib

import numpy as np


def write_png_gray(path, img):
    img = np.asarray(img, dtype=np.uint8)
    h, w = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def grid(images, rows, cols, scale=2, pad=2, flip_vertical=False):
    """images [N,1,H,W] in [-1,1] -> uint8 grid (white background padding), nearest upscaled."""
    x = np.clip((np.asarray(images)[:, 0] + 1) / 2, 0, 1)
    if flip_vertical:
        x = x[:, ::-1, :]
    n, h, w = x.shape
    H, W = h * scale, w * scale
    out = np.full((rows * (H + pad) + pad, cols * (W + pad) + pad), 255, dtype=np.uint8)
    for i in range(min(n, rows * cols)):
        r, c = divmod(i, cols)
        tile = np.kron(x[i], np.ones((scale, scale)))
        out[pad + r * (H + pad):pad + r * (H + pad) + H, pad + c * (W + pad):pad + c * (W + pad) + W] = (tile * 255).round()
    return out
