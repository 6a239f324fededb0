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
import os
import sys
import wave

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))
from ld_surgeon_distill import audio  # noqa: E402
from ld_surgeon_distill.audio import read_wav  # noqa: E402,F401  (data_audio reads espeak output with it)

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


# The feature functions are the trainer's (python/ld_surgeon_distill/audio.py): a user's --data WAV files become the
# same features the shipped audio pipeline was trained on.
def mel_filterbank(p=MEL_PARAMS):
    return audio.mel_filterbank(p)


def window(p=MEL_PARAMS):
    return audio.window(p)


def stft(y, p=MEL_PARAMS):
    return audio.stft(y, p)


def prepare_waveform(y, p=MEL_PARAMS):
    return audio.prepare_waveform(y, p)


def log_mel(y, p=MEL_PARAMS):
    """Prepared waveform (see prepare_waveform) -> float32 [1, n_mels, n_frames] in [-1, 1]."""
    return audio.log_mel(y, p)


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


def save_params(path, p=MEL_PARAMS):
    with open(path, "w") as f:
        json.dump(p, f, indent=1)
