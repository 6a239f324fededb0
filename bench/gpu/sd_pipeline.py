#!/usr/bin/env python3
"""Wraps a U-Net from bench/gen_sd_unet.py in the smallest pipeline the distillation trainer accepts, for an
SD-scale distillation benchmark on a GPU machine (no text encoder or VAE: random CLIP-sized embeddings are the
conditions, the evaluation is the latent score against the teacher).

  python bench/gpu/sd_pipeline.py PIPELINE_DIR [--bypass SCOPE ...]

PIPELINE_DIR/unet/ must hold model.onnx (+ .data) and config.json from gen_sd_unet.py. Writes model_index.json,
scheduler/scheduler_config.json (SD 1.5's DDIM, from examples/), conditions.npy, and unet/model.pruned.onnx with each --bypass
scope skipped (weights elsewhere kept): the student. Prints one JSON line.
"""
import argparse
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "python"))

import numpy as np  # noqa: E402
import onnx  # noqa: E402

from ld_surgeon_distill.export import write_model_atomic  # noqa: E402
from ld_surgeon_distill.graph_edit import bypass_scope  # noqa: E402

# SD 1.5's DDIM configuration, as the shipped example pipelines have it
SCHEDULER = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "digits-cond", "scheduler",
                         "scheduler_config.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pipeline")
    ap.add_argument("--bypass", action="append", default=[], help="module scope the student skips (repeatable)")
    ap.add_argument("--conditions", type=int, default=64, help="how many random embeddings")
    args = ap.parse_args()
    t0 = time.time()
    root = os.path.abspath(args.pipeline)
    with open(os.path.join(root, "unet", "config.json")) as f:
        cfg = json.load(f)
    size = int(cfg["sample_size"])
    index = {"_class_name": "OnnxStableDiffusionPipeline", "scheduler": ["diffusers", "DDIMScheduler"],
             "unet": ["diffusers", "OnnxRuntimeModel"],
             "ld_surgeon": {"latent_shape": [int(cfg["in_channels"]), size, size], "guidance_scale": 7.5}}
    with open(os.path.join(root, "model_index.json"), "w") as f:
        json.dump(index, f, indent=1)
    os.makedirs(os.path.join(root, "scheduler"), exist_ok=True)
    shutil.copyfile(SCHEDULER, os.path.join(root, "scheduler", "scheduler_config.json"))
    rng = np.random.default_rng(0)
    np.save(os.path.join(root, "conditions.npy"),
            rng.standard_normal((args.conditions, 77, int(cfg["cross_attention_dim"]))).astype(np.float32))
    model = onnx.load(os.path.join(root, "unet", "model.onnx"))
    teacher_nodes = len(model.graph.node)
    for scope in args.bypass:
        model = bypass_scope(model, scope)
    student = os.path.join(root, "unet", "model.pruned.onnx")
    write_model_atomic(model, student, external_data=True)
    print(json.dumps({"pipeline": root, "student": student, "bypassed": args.bypass, "teacher_nodes": teacher_nodes,
                      "student_nodes": len(model.graph.node), "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
