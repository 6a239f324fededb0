"""Spoken digits synthesised with espeak-ng, as log-mel spectrograms ([1, 64, 64] in [-1, 1])."""
import os
import subprocess
import tempfile

import numpy as np
from scipy.signal import resample_poly

from data_digits import NUMBER_WORDS
from mel import MEL_PARAMS, log_mel, prepare_waveform, read_wav

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, "cache", "audio_digits.npz")
VOICES = ["en", "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc",
          "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
VARIANTS = ["", "+f1", "+f2", "+f3", "+f4", "+f5", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7",
            "+Annie", "+Andy", "+Mike", "+Linda", "+steph", "+david", "+Alicia", "+john", "+Zac"]


def synth(word, voice, speed, pitch, amp=100):
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", str(amp),
                        "-w", f.name, word], check=True, capture_output=True)
        y, sr = read_wav(f.name)
    if sr != MEL_PARAMS["sample_rate"]:
        g = np.gcd(sr, MEL_PARAMS["sample_rate"])
        y = resample_poly(y, MEL_PARAMS["sample_rate"] // g, sr // g)
    return y


def build(clips_per_digit=80, seed=0, test_fraction=0.2):
    """Returns (features float32 [N,1,64,64], labels [N], train_idx, test_idx, metadata list);
    cached in training/cache/ because synthesis takes a minute."""
    if os.path.exists(CACHE):
        z = np.load(CACHE, allow_pickle=False)
        if int(z["clips_per_digit"]) == clips_per_digit:
            return z["features"], z["labels"], z["train_idx"], z["test_idx"], list(z["meta"])
    rng = np.random.default_rng(seed)
    feats, labels, meta = [], [], []
    for d, word in enumerate(NUMBER_WORDS):
        for _ in range(clips_per_digit):
            voice = VOICES[rng.integers(len(VOICES))] + VARIANTS[rng.integers(len(VARIANTS))]
            speed, pitch = int(rng.integers(120, 221)), int(rng.integers(20, 81))
            y = prepare_waveform(synth(word, voice, speed, pitch))
            shift = int(rng.integers(0, 4 * MEL_PARAMS["hop_length"]))  # small random onset
            y = np.concatenate([np.zeros(shift), y])[: MEL_PARAMS["n_samples"]]
            feats.append(log_mel(y))
            labels.append(d)
            meta.append(f"{word}|{voice}|s{speed}|p{pitch}|shift{shift}")
    feats, labels = np.stack(feats), np.array(labels, dtype=np.int64)
    perm = rng.permutation(len(labels))
    n_test = int(len(labels) * test_fraction)
    test_idx, train_idx = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    os.makedirs(os.path.dirname(CACHE), exist_ok=True)
    np.savez(CACHE, features=feats, labels=labels, train_idx=train_idx, test_idx=test_idx,
             meta=np.array(meta), clips_per_digit=clips_per_digit)
    return feats, labels, train_idx, test_idx, meta
