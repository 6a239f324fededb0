"""Log-mel spectrogram features and their Griffin-Lim inversion, in numpy.

Written by hand (no librosa/torchaudio on this machine) and kept deliberately plain so the
TypeScript side can reproduce it from MEL_PARAMS alone:
  frames:  reflect-pad n_fft//2 on both sides, frame i covers [i*hop, i*hop + n_fft)
  window:  periodic Hann, w[k] = 0.5 - 0.5*cos(2*pi*k/n_fft)
  power:   |rfft(frame * window)|^2                       -> [n_fft//2+1, frames]
  mel:     HTK mel scale m(f) = 2595*log10(1 + f/700); n_mels triangles with peaks equally spaced
           in mel between f_min and f_max (unnormalised, peak 1), applied to the power spectrum
  dB:      10*log10(max(mel, 1e-10)), clipped to [db_max - db_range, db_max]
  value:   (dB - (db_max - db_range)) / db_range * 2 - 1   -> [-1, 1]
  layout:  [1, n_mels, n_frames], mel bin 0 (lowest frequency) first
The waveform is first peak-normalised to `peak`, leading/trailing silence trimmed at
`trim_db` below the peak, then padded (at the end, with zeros) or cropped to n_samples.
"""
import json
import wave

import numpy as np

MEL_PARAMS = {
    "sample_rate": 16000,
    "n_fft": 1024,
    "win_length": 1024,
    "hop_length": 256,
    "window": "hann_periodic",
    "center": True,
    "pad_mode": "reflect",
    "power": 2.0,
    "n_mels": 64,
    "f_min": 0.0,
    "f_max": 8000.0,
    "mel_scale": "htk",
    "mel_norm": None,
    "n_frames": 64,
    "n_samples": 63 * 256,
    "peak": 0.9,
    "trim_db": 40.0,
    "log": "10*log10(max(mel_power, 1e-10))",
    "db_max": 40.0,
    "db_range": 80.0,
    "normalize": "x = clip(dB, db_max - db_range, db_max); value = (x - (db_max - db_range)) / db_range * 2 - 1",
    "layout": "[1, n_mels, n_frames], lowest mel bin first",
}


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(p=MEL_PARAMS):
    n_freq = p["n_fft"] // 2 + 1
    freqs = np.linspace(0, p["sample_rate"] / 2, n_freq)
    pts = mel_to_hz(np.linspace(hz_to_mel(p["f_min"]), hz_to_mel(p["f_max"]), p["n_mels"] + 2))
    fb = np.zeros((p["n_mels"], n_freq))
    for m in range(p["n_mels"]):
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[m] = np.maximum(0.0, np.minimum(up, down))
    return fb


def window(p=MEL_PARAMS):
    n = p["n_fft"]
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def stft(y, p=MEL_PARAMS):
    n, hop = p["n_fft"], p["hop_length"]
    y = np.pad(y, n // 2, mode="reflect")
    frames = 1 + (len(y) - n) // hop
    idx = np.arange(n)[None, :] + hop * np.arange(frames)[:, None]
    return np.fft.rfft(y[idx] * window(p)[None, :], axis=1).T  # [freq, frames]


def istft(spec, length, p=MEL_PARAMS):
    n, hop = p["n_fft"], p["hop_length"]
    frames = spec.shape[1]
    w = window(p)
    out = np.zeros(n + hop * (frames - 1))
    norm = np.zeros_like(out)
    seg = np.fft.irfft(spec.T, n=n, axis=1) * w[None, :]
    for i in range(frames):
        out[i * hop:i * hop + n] += seg[i]
        norm[i * hop:i * hop + n] += w ** 2
    out = out / np.maximum(norm, 1e-8)
    return out[n // 2:n // 2 + length]


def prepare_waveform(y, p=MEL_PARAMS):
    y = np.asarray(y, dtype=np.float64)
    y = y / max(np.abs(y).max(), 1e-9) * p["peak"]
    env = np.abs(y)
    thr = p["peak"] * 10 ** (-p["trim_db"] / 20)
    loud = np.nonzero(env > thr)[0]
    if len(loud):
        y = y[loud[0]:loud[-1] + 1]
    n = p["n_samples"]
    return np.pad(y, (0, max(0, n - len(y))))[:n]


def log_mel(y, p=MEL_PARAMS):
    """Prepared waveform (see prepare_waveform) -> float32 [1, n_mels, n_frames] in [-1, 1]."""
    power = np.abs(stft(y, p)) ** 2
    mel = mel_filterbank(p) @ power
    db = np.clip(10 * np.log10(np.maximum(mel, 1e-10)), p["db_max"] - p["db_range"], p["db_max"])
    v = (db - (p["db_max"] - p["db_range"])) / p["db_range"] * 2 - 1
    return v[None, :, : p["n_frames"]].astype(np.float32)


def griffin_lim(feature, p=MEL_PARAMS, iters=64, seed=0):
    """[1, n_mels, n_frames] (or [n_mels, n_frames]) in [-1,1] -> waveform at p['sample_rate']."""
    v = np.asarray(feature, dtype=np.float64).reshape(p["n_mels"], -1)
    db = (np.clip(v, -1, 1) + 1) / 2 * p["db_range"] + p["db_max"] - p["db_range"]
    mel = 10 ** (db / 10)
    mel[db <= p["db_max"] - p["db_range"] + 1e-6] = 0.0
    power = np.maximum(np.linalg.pinv(mel_filterbank(p)) @ mel, 0.0)
    mag = np.sqrt(power)
    length = p["hop_length"] * (mag.shape[1] - 1)
    rng = np.random.default_rng(seed)
    angles = np.exp(2j * np.pi * rng.random(mag.shape))
    for _ in range(iters):
        y = istft(mag * angles, length, p)
        s = stft(y, p)[:, : mag.shape[1]]
        angles = np.exp(1j * np.angle(s))
    y = istft(mag * angles, length, p)
    return (y / max(np.abs(y).max(), 1e-9) * 0.9).astype(np.float32)


def write_wav(path, y, sample_rate):
    pcm = (np.clip(y, -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())


def read_wav(path):
    with wave.open(path, "rb") as w:
        sr, n, ch, width = w.getframerate(), w.getnframes(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(n)
    if width != 2:
        raise ValueError(f"{path}: only 16-bit PCM WAV is supported (sample width {width})")
    y = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return y.reshape(-1, ch).mean(axis=1), sr


def save_params(path, p=MEL_PARAMS):
    with open(path, "w") as f:
        json.dump(p, f, indent=1)
