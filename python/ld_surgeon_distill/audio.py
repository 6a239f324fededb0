"""WAV files -> the log-mel features an audio pipeline's VAE encodes, by the recipe in the pipeline's mel_params.json.

The recipe (written out in training/mel.py, which builds the shipped audio pipeline's features with these same
functions): peak-normalise, trim silence, pad or crop to n_samples; reflect-padded STFT with a periodic Hann
window; power spectrum through HTK mel triangles; dB clipped to [db_max - db_range, db_max] and mapped to [-1, 1];
layout [1, n_mels, n_frames]. numpy only: no librosa or torchaudio is assumed on a user's machine.
"""
import wave
from typing import Dict, Tuple

import numpy as np

from .pipeline import PipelineError


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(p: Dict) -> np.ndarray:
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


def window(p: Dict) -> np.ndarray:
    n = p["n_fft"]
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def stft(y, p: Dict) -> np.ndarray:
    n, hop = p["n_fft"], p["hop_length"]
    y = np.pad(y, n // 2, mode="reflect")
    frames = 1 + (len(y) - n) // hop
    idx = np.arange(n)[None, :] + hop * np.arange(frames)[:, None]
    return np.fft.rfft(y[idx] * window(p)[None, :], axis=1).T  # [freq, frames]


def prepare_waveform(y, p: Dict) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    y = y / max(np.abs(y).max(), 1e-9) * p["peak"]
    env = np.abs(y)
    thr = p["peak"] * 10 ** (-p["trim_db"] / 20)
    loud = np.nonzero(env > thr)[0]
    if len(loud):
        y = y[loud[0]:loud[-1] + 1]
    n = p["n_samples"]
    return np.pad(y, (0, max(0, n - len(y))))[:n]


def log_mel(y, p: Dict) -> np.ndarray:
    """Prepared waveform (see prepare_waveform) -> float32 [1, n_mels, n_frames] in [-1, 1]."""
    power = np.abs(stft(y, p)) ** 2
    mel = mel_filterbank(p) @ power
    db = np.clip(10 * np.log10(np.maximum(mel, 1e-10)), p["db_max"] - p["db_range"], p["db_max"])
    v = (db - (p["db_max"] - p["db_range"])) / p["db_range"] * 2 - 1
    return v[None, :, : p["n_frames"]].astype(np.float32)


def read_wav(path: str) -> Tuple[np.ndarray, int]:
    """A PCM WAV file (8, 16, 24 or 32 bit, any channel count) -> (mono float waveform in [-1, 1], sample rate)."""
    try:
        with wave.open(path, "rb") as w:
            sr, n, ch, width = w.getframerate(), w.getnframes(), w.getnchannels(), w.getsampwidth()
            raw = w.readframes(n)
    except (wave.Error, EOFError) as e:
        raise PipelineError(f"{path}: not a PCM WAV file ({e}); convert it, e.g. sox IN -e signed -b 16 OUT.wav") from e
    if width == 1:
        y = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        y = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        y = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / float(1 << 23)
    elif width == 4:
        y = np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)
    else:
        raise PipelineError(f"{path}: {width * 8}-bit samples are not supported")
    if len(y) == 0:
        raise PipelineError(f"{path}: holds no samples")
    return y.reshape(-1, ch).mean(axis=1), sr


def wav_features(path: str, p: Dict) -> np.ndarray:
    """A WAV file -> [1, n_mels, n_frames] in the pipeline's data space (resampled with scipy where needed)."""
    y, sr = read_wav(path)
    rate = int(p["sample_rate"])
    if sr != rate:
        try:
            from scipy.signal import resample_poly  # what the shipped audio pipeline's training data went through
        except ImportError:
            raise PipelineError(f"{path}: sampled at {sr} Hz, the pipeline's features are at {rate} Hz and scipy is "
                                f"not installed to resample; resample it first, e.g. sox IN.wav -r {rate} OUT.wav")
        g = np.gcd(sr, rate)
        y = resample_poly(y, rate // g, sr // g)
    return log_mel(prepare_waveform(y, p), p)
