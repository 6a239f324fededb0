"""A minimal PNG reader (and writer, for tests and previews).

Written here because the trainer's only Python dependencies are torch, onnx and numpy (Debian's python3-pil is
not guaranteed). Reads non-interlaced 8/16-bit grayscale, gray+alpha, RGB and RGBA images, all five filters;
palette and interlaced images are refused with a clear error.
"""
import struct
import zlib

import numpy as np

_SIG = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


class PngError(Exception):
    pass


def read_png(path: str) -> np.ndarray:
    """-> uint8/uint16 array [H, W, C]."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != _SIG:
        raise PngError(f"{path}: not a PNG file")
    pos, header, idat = 8, None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise PngError(f"{path}: no IHDR chunk")
    w, h, depth, color, _, _, interlace = header
    if color not in _CHANNELS:
        raise PngError(f"{path}: color type {color} (palette) is not supported; save as grayscale or RGB")
    if depth not in (8, 16):
        raise PngError(f"{path}: bit depth {depth} is not supported (8 or 16)")
    if interlace:
        raise PngError(f"{path}: interlaced PNGs are not supported")
    ch = _CHANNELS[color]
    bpp = ch * depth // 8
    stride = w * bpp
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        raise PngError(f"{path}: corrupt image data ({e})") from e
    if len(raw) != h * (stride + 1):
        raise PngError(f"{path}: image data has {len(raw)} bytes, expected {h * (stride + 1)}")
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(h, stride + 1)
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        ftype, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 0xFF
        elif ftype in (1, 3, 4):
            cur = np.zeros(stride, dtype=np.int32)
            for x in range(stride):  # these filters depend on the reconstructed left neighbour
                a = cur[x - bpp] if x >= bpp else 0
                b = prev[x]
                if ftype == 1:
                    p = a
                elif ftype == 3:
                    p = (a + b) >> 1
                else:
                    c = prev[x - bpp] if x >= bpp else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + p) & 0xFF
        else:
            raise PngError(f"{path}: unknown filter type {ftype} in row {y}")
        out[y] = cur
        prev = cur
    if depth == 16:
        return out.view(">u2").astype(np.uint16).reshape(h, w, ch)
    return out.reshape(h, w, ch)


def write_png(path: str, image: np.ndarray):
    """uint8 [H, W] or [H, W, C] (C in 1..4) -> PNG, filter 0."""
    img = np.asarray(image, dtype=np.uint8)
    if img.ndim == 2:
        img = img[:, :, None]
    h, w, c = img.shape
    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(_SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
