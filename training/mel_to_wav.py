#!/usr/bin/env python3
"""Turns a log-mel spectrogram (.npy, [1, n_mels, n_frames] or [n_mels, n_frames], values in [-1, 1]
as produced by the audio-digits VAE decoder) into a 16-bit WAV with Griffin-Lim.

  /usr/bin/python3 training/mel_to_wav.py in.npy out.wav [--params examples/audio-digits/mel_params.json] [--iters 64]
"""
import argparse
import json
import os
import sys

import numpy as np

from mel import MEL_PARAMS, griffin_lim, write_wav


def main():
    ap = argparse.ArgumentParser(description="log-mel .npy -> .wav (Griffin-Lim)")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--params", help="mel_params.json of the pipeline (default: the built-in audio-digits parameters)")
    ap.add_argument("--iters", type=int, default=64)
    args = ap.parse_args()
    params = json.load(open(args.params)) if args.params else MEL_PARAMS
    try:
        feature = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        sys.exit(f"{args.input}: not a readable .npy file ({e})")
    if feature.size % params["n_mels"] != 0 or feature.ndim not in (2, 3):
        sys.exit(f"{args.input}: expected [1, {params['n_mels']}, frames] or [{params['n_mels']}, frames], got {list(feature.shape)}")
    y = griffin_lim(feature, params, iters=args.iters)
    tmp = args.output + ".tmp"
    write_wav(tmp, y, params["sample_rate"])
    os.replace(tmp, args.output)
    print(f"wrote {args.output}: {len(y) / params['sample_rate']:.2f} s at {params['sample_rate']} Hz")


if __name__ == "__main__":
    main()
