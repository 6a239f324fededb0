"""Does distillation recover the quality pruning lost, on CPU? The ablation behind the trainer's defaults (issue 14).

For each shipped digits pipeline and k: copy it, score its blocks and prune the k lowest-scored (`ld-surgeon score`,
`ld-surgeon prune --lowest k`), then distill the pruned U-Net with each named config (same seed, same data-free
latents, same evaluation noise), and record the pipeline's metric for the original (teacher), the pruned student
(step 0) and the distilled one (the last step, not the best evaluation: what the config itself reaches), with

    recovery = (FID_pruned - FID_distilled) / (FID_pruned - FID_original)

and wall and CPU seconds of each run. Each run holds /tmp/heavy.lock (the machine is shared); the load average is
recorded beside it. Optionally (--table3) the winning config also distils a re-initialised copy of the same student
(LD-Pruner's Table 3: preserved vs re-initialised weights). Writes one JSON file (default
bench/out/distill-ablation.json), rewritten after every run, and prints it.

/usr/bin/python3 bench/distill_recovery.py [--cases digits-cond:8,digits-uncond:8] [--configs bk-sdm,default]
                                          [--steps N] [--eval-samples 300] [--table3] [--out FILE]
"""
import argparse
import fcntl
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ld_surgeon_distill.pipeline import denoiser_folder  # noqa: E402  unet/ or transformer/

# Trainer flags of each config; anything not named is the trainer's default (python/ld_surgeon_distill/settings.py).
# "bk-sdm" is the recipe the trainer shipped with (BK-SDM's SD-scale settings); the others change one thing at a time.
CONFIGS = {
    "bk-sdm": {"lr": 5e-5, "lr-schedule": "constant", "warmup-steps": 0, "feat-norm": "none", "lambda-task": 1,
               "lambda-out": 1, "lambda-feat": 1, "ema-decay": 0},
    "lr1e-3": {"lr": 1e-3, "lr-schedule": "constant", "warmup-steps": 0, "feat-norm": "none", "lambda-task": 1,
               "lambda-out": 1, "lambda-feat": 1, "ema-decay": 0},
    "lr1e-3-cosine": {"lr": 1e-3, "lr-schedule": "cosine", "warmup-steps": 20, "feat-norm": "none",
                      "lambda-task": 1, "lambda-out": 1, "lambda-feat": 1, "ema-decay": 0},
    "cosine-featnorm": {"lr": 1e-3, "lr-schedule": "cosine", "warmup-steps": 20, "feat-norm": "teacher",
                        "lambda-task": 1, "lambda-out": 1, "lambda-feat": 1, "ema-decay": 0},
    "cosine-featnorm-kdonly": {"lr": 1e-3, "lr-schedule": "cosine", "warmup-steps": 20, "feat-norm": "teacher",
                               "lambda-task": 0, "lambda-out": 1, "lambda-feat": 1, "ema-decay": 0},
    "cosine-outonly": {"lr": 1e-3, "lr-schedule": "cosine", "warmup-steps": 20, "feat-norm": "teacher",
                       "lambda-task": 0, "lambda-out": 1, "lambda-feat": 0, "ema-decay": 0},
    "cosine-featnorm-kdonly-ema": {"lr": 1e-3, "lr-schedule": "cosine", "warmup-steps": 20, "feat-norm": "teacher",
                                   "lambda-task": 0, "lambda-out": 1, "lambda-feat": 1, "ema-decay": 0.99},
    "lr3e-3-kdonly": {"lr": 3e-3, "lr-schedule": "cosine", "warmup-steps": 20, "feat-norm": "teacher",
                      "lambda-task": 0, "lambda-out": 1, "lambda-feat": 1, "ema-decay": 0},
    "default": {},  # whatever the trainer ships now
}
CLI = [os.path.join(REPO, "bin", "ld-surgeon.js")]


def cli(*args):
    p = subprocess.run(["node", *CLI, *args], cwd=REPO, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"ld-surgeon {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return p.stdout


def prepare(work: str, pipeline: str, k: int):
    """The original pipeline copy (scored once) and its k-lowest prune; reused when already there."""
    orig = os.path.join(work, pipeline)
    den = denoiser_folder(os.path.join(REPO, "examples", pipeline))  # unet/ or transformer/ (digits-dit)
    if not os.path.isfile(os.path.join(orig, den, "model.ldscores.json")):
        shutil.rmtree(orig, ignore_errors=True)
        shutil.copytree(os.path.join(REPO, "examples", pipeline), orig)
        cli("score", orig, "--granularity", "block", "--samples", "16", "--steps", "10", "--ep", "cpu", "--quiet")
    pruned = f"{orig}.k{k}"
    record = os.path.join(pruned, den, "model.prune.json")
    if not os.path.isfile(record):
        cli("prune", orig, "--lowest", str(k), "--out", pruned, "--ep", "cpu", "--no-metric", "--quiet", "--force")
    with open(record) as f:
        rec = json.load(f)
    removed = [r if isinstance(r, str) else r.get("id", r.get("name")) for r in rec["removed"]]
    return orig, pruned, {"removed": removed, "params_before": rec["before"].get("params"),
                          "params_after": rec["after"].get("params")}


class HeavyLock:
    """/tmp/heavy.lock (flock), waited for at most `timeout` seconds: past that the run goes ahead without it and
    says so (`held` false in its row), so a long job of someone else's cannot stall the bench indefinitely."""

    def __init__(self, timeout: float):
        self.timeout = timeout

    def __enter__(self):
        self.f = open("/tmp/heavy.lock", "a")
        t0 = time.time()
        self.held = False
        while True:
            try:
                fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
                break
            except BlockingIOError:
                if time.time() - t0 >= self.timeout:
                    break
                time.sleep(2)
        self.waited = time.time() - t0
        return self

    def __exit__(self, *exc):
        if self.held:
            fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def train(student, teacher, run_dir, flags, args, seed_cache):
    cmd = [sys.executable, "-m", "ld_surgeon_distill", "--student", student, "--teacher", teacher,
           "--run-dir", run_dir, "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--seed", str(args.seed),
           "--data-samples", str(args.data_samples), "--data-steps", str(args.data_steps),
           "--eval-samples", str(args.eval_samples), "--eval-steps", str(args.eval_steps),
           "--eval-every", str(args.eval_every), "--checkpoint-every", "0", "--log-every", "20", "--select-by", "last",
           "--no-export", "--device", "cpu"]
    for k, v in flags.items():
        cmd += [f"--{k}", str(v)]
    os.makedirs(run_dir, exist_ok=True)
    # the teacher's latents are the same for every config of a pipeline: generate them once (the trainer checks the key)
    if seed_cache and os.path.isfile(seed_cache):
        shutil.copy(seed_cache, os.path.join(run_dir, "data.pt"))
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    with HeavyLock(args.lock_timeout) as lock:
        load = os.getloadavg()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.time() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ev = [json.loads(line) for line in p.stdout.splitlines() if line.strip().startswith("{")]
    if p.returncode != 0:
        raise SystemExit(f"distillation failed ({p.returncode}): {ev[-1] if ev else p.stderr[-3000:]}")
    if seed_cache and not os.path.isfile(seed_cache):
        shutil.copy(os.path.join(run_dir, "data.pt"), seed_cache)
    evals = [{"step": e["step"], **e["metrics"]} for e in ev if e["event"] == "eval"]
    steps = [e for e in ev if e["event"] == "step"]
    data = next(e for e in ev if e["event"] == "data")
    done = ev[-1]
    return {"teacher": done["metrics_teacher"], "pruned": done["metrics_before"], "distilled": evals[-1],
            "curve": evals, "loss_first": {k: steps[0][k] for k in ("loss_task", "loss_out", "loss_feat")},
            "loss_last": {k: steps[-1][k] for k in ("loss_task", "loss_out", "loss_feat")},
            "data_seconds": data.get("seconds", 0.0), "data_cached": data["cached"],
            "wall_s": round(wall, 1), "cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 1),
            "lock_wait_s": round(lock.waited, 1), "lock_held": lock.held, "loadavg_at_start": [round(x, 2) for x in load]}


def recovery(r, metric):
    t, b, a = r["teacher"][metric], r["pruned"][metric], r["distilled"][metric]
    return None if b - t <= 0 else round((b - a) / (b - t), 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="digits-cond:8,digits-uncond:8", help="pipeline:k,... (examples/<pipeline>)")
    ap.add_argument("--configs", default="bk-sdm,default", help=f"of {', '.join(CONFIGS)}")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--data-samples", type=int, default=256)
    ap.add_argument("--data-steps", type=int, default=10)
    ap.add_argument("--eval-samples", type=int, default=300)
    ap.add_argument("--eval-steps", type=int, default=10)
    ap.add_argument("--eval-every", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lock-timeout", type=float, default=1e9, help="seconds to wait for /tmp/heavy.lock")
    ap.add_argument("--table3", default=None, help="config that also distils a re-initialised student")
    ap.add_argument("--work", default="/tmp/ld-surgeon-distill-recovery")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "distill-ablation.json"))
    ap.add_argument("--append", action="store_true", help="keep the runs already in --out (other cases/configs)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    result = {"bench": "distill recovery ablation (issue 14)", "runs": []}
    if args.append and os.path.isfile(args.out):
        with open(args.out) as f:
            result = json.load(f)
    result.update({
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                    "shared": "2 cores shared with other jobs; each run held /tmp/heavy.lock; loadavg per run"},
        "recovery": "(FID_pruned - FID_distilled) / (FID_pruned - FID_original), FID at the last step",
        "configs": CONFIGS})
    from ld_surgeon_distill.settings import DEFAULTS
    result["trainer_defaults"] = {k: DEFAULTS[k] for k in ("lr", "lr_schedule", "warmup_steps", "feat_norm",
                                                           "lambda_task", "lambda_out", "lambda_feat", "ema_decay",
                                                           "batch_size", "steps")}

    def same(a, b):
        return all(a[k] == b[k] for k in ("pipeline", "k", "config", "weights", "steps"))

    def save():
        # merge with what is on disk now: another invocation (other cases) may have written since this one began
        if args.append and os.path.isfile(args.out):
            with open(args.out) as f:
                disk = json.load(f).get("runs", [])
            result["runs"] = [x for x in disk if not any(same(x, y) for y in result["runs"])] + result["runs"]
        tmp = f"{args.out}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        os.replace(tmp, args.out)

    for case in args.cases.split(","):
        pipeline, k = case.split(":")
        orig, pruned, rec = prepare(args.work, pipeline, int(k))
        cache = os.path.join(args.work, f"{pipeline}.data-{args.data_samples}-{args.data_steps}-{args.seed}.pt")
        variants = [(c, pruned, "preserved") for c in args.configs.split(",") if c]
        if args.table3:
            from distill import reinitialize
            import onnx
            from ld_surgeon_distill.export import write_model_atomic
            re_path = os.path.join(args.work, f"{pipeline}.k{k}.reinit.onnx")
            write_model_atomic(reinitialize(onnx.load(os.path.join(pruned, denoiser_folder(pruned), "model.onnx")), args.seed), re_path)
            variants.append((args.table3, re_path, "reinitialized"))
        for name, student, weights in variants:
            run_dir = os.path.join(args.work, "runs", f"{pipeline}-k{k}-{name}-{weights}-{args.steps}-{int(time.time())}")
            r = train(student, orig, run_dir, CONFIGS[name], args, cache)
            metric = "FID"
            row = {"pipeline": pipeline, "k": int(k), **rec, "config": name, "weights": weights,
                   "flags": CONFIGS[name], "steps": args.steps, "batch_size": args.batch_size, "seed": args.seed,
                   "eval": {"samples": args.eval_samples, "ddim_steps": args.eval_steps},
                   "recovery": recovery(r, metric), **r}
            result["runs"] = [x for x in result["runs"] if not same(x, row)] + [row]
            save()
            acc = lambda m: m.get("class_accuracy", "-")
            print(f"{pipeline} k={k} {name} ({weights}): FID {r['teacher'][metric]:.2f} / {r['pruned'][metric]:.2f} -> "
                  f"{r['distilled'][metric]:.2f}, acc {acc(r['pruned'])} -> {acc(r['distilled'])}, recovery "
                  f"{row['recovery']}, {r['wall_s']} s wall, {r['cpu_s']} s CPU, load {r['loadavg_at_start']}",
                  file=sys.stderr, flush=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
