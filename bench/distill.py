"""Preserved weights vs re-initialized student (LD-Pruner's Table 3 question), on an example pipeline.

Both students have the same architecture: a pruned U-Net (--student, e.g. the output of
`ld-surgeon prune examples/digits-cond --target-latency -35%`), or else the teacher's U-Net with one block bypassed
(--block). One keeps the teacher's remaining weights (what the pruner hands to distillation), the other has every
weight re-drawn (kaiming-uniform
for Conv/Gemm/MatMul weights, zeros for biases, ones/zeros for normalisation scales/shifts). Each is distilled
with the same settings and seed; the pipeline's metric is recorded along the way. Prints one JSON object.

/usr/bin/python3 bench/distill.py [--pipeline examples/digits-cond] [--student examples/digits-cond.pruned |
                                  --block up_blocks.2.attentions.0]
                                  [--steps 300] [--eval-every 100] [--lr X] ...
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "python"))

from ld_surgeon_distill.export import write_model_atomic  # noqa: E402
from ld_surgeon_distill.graph_edit import bypass_scope  # noqa: E402

WEIGHT_OPS = {"Conv": 1, "ConvTranspose": 1, "Gemm": 1, "MatMul": 1}


def reinitialize(model: onnx.ModelProto, seed: int) -> onnx.ModelProto:
    """Same graph, every float initializer re-drawn as a freshly constructed torch module would have it."""
    rng = np.random.default_rng(seed)
    g = model.graph
    uses = {}
    producers = {o: n for n in g.node for o in n.output}
    for n in g.node:
        for k, v in enumerate(n.input):
            uses.setdefault(v, []).append((n, k))
    out = []
    for t in g.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype.kind != "f":
            out.append(t)
            continue
        kind = "other"
        for n, k in uses.get(t.name, []):
            if n.op_type in WEIGHT_OPS and k == WEIGHT_OPS[n.op_type]:
                kind = "weight"
            elif n.op_type in ("Conv", "ConvTranspose", "Gemm") and k == 2:
                kind = "bias"
            elif n.op_type == "LayerNormalization":
                kind = "norm_scale" if k == 1 else "bias"
            elif n.op_type == "Mul" and _after_norm(n, producers):
                kind = "norm_scale"
            elif n.op_type == "Add":
                kind = "bias"
        if kind == "weight":
            fan_in = a.shape[1] * int(np.prod(a.shape[2:])) if a.ndim > 2 else (a.shape[0] if _is_matmul(t, uses)
                                                                                 else a.shape[1])
            b = 1.0 / math.sqrt(max(fan_in, 1))
            new = rng.uniform(-b, b, size=a.shape)
        elif kind == "norm_scale":
            new = np.ones(a.shape)
        elif kind == "bias":
            new = np.zeros(a.shape)
        else:
            new = a
        out.append(numpy_helper.from_array(new.astype(a.dtype), t.name))
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.initializer[:]
    m.graph.initializer.extend(out)
    return m


def _is_matmul(t, uses):
    return any(n.op_type == "MatMul" for n, _ in uses.get(t.name, []))  # MatMul weights are [in, out]


def _after_norm(node, producers):
    """The Mul(gamma) of torch's GroupNorm export: Reshape <- InstanceNormalization."""
    p = producers.get(node.input[0])
    if p is not None and p.op_type == "Reshape":
        q = producers.get(p.input[0])
        return q is not None and q.op_type == "InstanceNormalization"
    return p is not None and p.op_type in ("InstanceNormalization", "LayerNormalization")


def run(student, args, run_dir):
    cmd = [sys.executable, "-m", "ld_surgeon_distill", "--student", student, "--teacher", args.pipeline,
           "--run-dir", run_dir, "--steps", str(args.steps), "--batch-size", str(args.batch_size),
           "--data-samples", str(args.data_samples), "--data-steps", str(args.data_steps),
           "--eval-samples", str(args.eval_samples), "--eval-steps", str(args.eval_steps),
           "--eval-every", str(args.eval_every), "--checkpoint-every", "0", "--log-every", "10",
           "--seed", str(args.seed), "--no-export"] + (["--lr", str(args.lr)] if args.lr is not None else [])
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    t0 = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    ev = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    if p.returncode != 0:
        raise SystemExit(f"distillation failed ({p.returncode}): {ev[-1] if ev else p.stderr[-2000:]}")
    evals = [{"step": e["step"], **e["metrics"]} for e in ev if e["event"] == "eval"]
    steps = [e for e in ev if e["event"] == "step"]
    done = ev[-1]
    return {"curve": evals, "teacher": done["metrics_teacher"], "best_step": done["best_step"],
            "loss_first": steps[0]["loss"], "loss_last": steps[-1]["loss"],
            "kd_loss_first": steps[0]["loss_out"] + steps[0]["loss_feat"],
            "kd_loss_last": steps[-1]["loss_out"] + steps[-1]["loss_feat"],
            "samples_per_s": round(sum(s["samples_per_s"] for s in steps) / len(steps), 2),
            "seconds": round(time.time() - t0, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipeline", default=os.path.join(REPO, "examples", "digits-cond"))
    ap.add_argument("--student", help="pruned U-Net (.onnx) or pruned pipeline folder")
    ap.add_argument("--block", default="up_blocks.2.attentions.0", help="without --student: the block to bypass")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=None, help="default: the trainer's")
    ap.add_argument("--data-samples", type=int, default=64)
    ap.add_argument("--data-steps", type=int, default=10)
    ap.add_argument("--eval-samples", type=int, default=100)
    ap.add_argument("--eval-steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.student:
        path = os.path.join(args.student, "unet", "model.onnx") if os.path.isdir(args.student) else args.student
        pruned = onnx.load(path)
        described = os.path.relpath(path, REPO)
    else:
        pruned = bypass_scope(onnx.load(os.path.join(args.pipeline, "unet", "model.onnx")), args.block)
        described = f"teacher U-Net with {args.block} bypassed"
    result = {"bench": "distill: preserved weights vs re-initialized student", "pipeline": os.path.relpath(args.pipeline, REPO),
              "student": described, "settings": vars(args)}
    with tempfile.TemporaryDirectory(prefix="ldsd-bench-") as tmp:
        variants = {"preserved": pruned, "reinitialized": reinitialize(pruned, args.seed)}
        for name, model in variants.items():
            path = os.path.join(tmp, f"{name}.onnx")
            write_model_atomic(model, path)
            result[name] = run(path, args, os.path.join(tmp, f"run-{name}"))
    key = next(k for k in result["preserved"]["curve"][0] if k not in ("step", "class_accuracy"))
    metric = "FID" if "FID" in result["preserved"]["curve"][0] else key
    result["side_by_side"] = [{"step": a["step"], f"{metric}_preserved": a.get(metric),
                               f"{metric}_reinitialized": b.get(metric),
                               "latent_score_preserved": a.get("latent_score"),
                               "latent_score_reinitialized": b.get("latent_score")}
                              for a, b in zip(result["preserved"]["curve"], result["reinitialized"]["curve"])]
    result["teacher_metrics"] = result["preserved"]["teacher"]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
