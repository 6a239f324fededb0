"""The distillation run: student (pruned U-Net, from its preserved weights) learns from the teacher (original U-Net).

L = l_task MSE(target, S(x_t, t, c)) + l_out MSE(T(x_t, t, c), S(x_t, t, c)) + l_feat sum_stages MSE(f_T, f_S)
(BK-SDM; features at the outputs of down_blocks.N / mid_block / up_blocks.N, matched by module scope).

Progress goes to stdout as one JSON object per line (rank 0 only); human-readable logs go to stderr.
"""
import glob
import hashlib
import json
import math
import os
import random
import signal
import socket
import sys
import time
from contextlib import nullcontext
from typing import Dict, List, Optional

import numpy as np
import torch

from . import __version__
from .conditions import Conditioner, SdxlCond, sdxl_time_ids
from .data import LatentData, generate, load_dir, training_batch
from .export import export_onnx
from .losses import distillation_loss, learning_rate
from .metrics import Evaluator
from .onnx_import import OnnxImportError, OnnxModule
from .pipeline import Pipeline, PipelineError, resolve_unet
from .stale import RUN_TEMP, remove_stale
from .sampler import NoiseSchedule, SchedulerConfigError
from .settings import CANCEL_EXIT, DEFAULTS, RESUME_OVERRIDABLE


class SetupCancelled(BaseException):
    """A cancel that arrived before training began: nothing trained yet, so the setup is abandoned at once.

    A BaseException so that no `except Exception` on the way (torch, onnx, our own) swallows it."""


class DistillError(Exception):
    pass


class Emitter:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.file = None
        self._writing = False
        self._pending: Optional[BaseException] = None

    def attach(self, path: str):
        """Also appends every event to the run folder's events.jsonl, so a chart can replay a run (also a CLI or
        cluster run, or one resumed after a reload); a resumed run appends to the same file."""
        if self.enabled:
            self.file = open(path, "a", encoding="utf-8")

    def event(self, kind: str, **fields):
        if self.enabled:
            line = json.dumps({"event": kind, **fields}, default=_json_default) + "\n"
            self._writing = True
            try:
                sys.stdout.write(line)
                sys.stdout.flush()
                if self.file is not None:
                    self.file.write(line)
                    self.file.flush()
            finally:
                self._writing = False
        if self._pending is not None:
            exc, self._pending = self._pending, None
            raise exc

    def raise_when_idle(self, exc: BaseException):
        """For a signal handler: raises `exc` now, or right after the event being written is out whole on stdout and
        in events.jsonl (a reader of either must see the same events)."""
        if self._writing:
            self._pending = exc
        else:
            raise exc

    def log(self, msg: str):
        if self.enabled:
            sys.stderr.write(f"[distill] {msg}\n")
            sys.stderr.flush()


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, torch.Tensor):
        return o.tolist()
    return str(o)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_torch_save(obj, path: str):
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _atomic_json(obj, path: str):
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, default=_json_default)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def default_output(student_path: str) -> str:
    base = student_path[:-5] if student_path.endswith(".onnx") else student_path
    return base + ".distilled.onnx"


def default_run_dir(student_path: str) -> str:
    base = student_path[:-5] if student_path.endswith(".onnx") else student_path
    return os.path.join(base + ".distill-runs", time.strftime("%Y%m%d-%H%M%S"))


def checkpoint_step(path: str) -> int:
    """The step a checkpoint file holds, from its name (ckpt-<step>.pt); ValueError for another name."""
    return int(os.path.basename(path)[5:-3])


def latest_checkpoint(run_dir: str) -> Optional[str]:
    found = []
    for p in glob.glob(os.path.join(run_dir, "ckpt-*.pt")):
        try:
            found.append((checkpoint_step(p), p))
        except ValueError:
            pass
    return max(found)[1] if found else None


def emit_cancelled_before_training(emit: "Emitter", run_dir: Optional[str]) -> int:
    """A cancel before the first training step: report where a --resume would continue from."""
    latest = latest_checkpoint(run_dir) if run_dir else None
    emit.event("cancelled", step=checkpoint_step(latest) if latest else 0, checkpoint=latest)
    return CANCEL_EXIT


# ------------------------------------------------------------------------------------------ distributed

class Dist:
    def __init__(self, device_pref: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        want_cuda = device_pref == "cuda" or (device_pref == "auto" and torch.cuda.is_available())
        if device_pref == "cuda" and not torch.cuda.is_available():
            raise DistillError("--device cuda, but torch sees no CUDA device (run with --check)")
        if want_cuda:
            self.device = torch.device("cuda", self.local_rank % max(torch.cuda.device_count(), 1))
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        self.enabled = self.world > 1
        if self.enabled:
            import torch.distributed as dist
            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
            self.dist = dist

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self):
        if self.enabled:
            self.dist.barrier()

    def any(self, flag: bool) -> bool:
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        self.dist.all_reduce(t, op=self.dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def mean(self, values: List[float]) -> List[float]:
        if not self.enabled:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        self.dist.all_reduce(t)
        return (t / self.world).tolist()

    def gather_objects(self, obj):
        if not self.enabled:
            return [obj]
        out = [None] * self.world
        self.dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj):
        if not self.enabled:
            return obj
        box = [obj]
        self.dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self):
        if self.enabled:
            self.dist.destroy_process_group()


# ------------------------------------------------------------------------------------------------ the run

class UNetIO:
    """Which graph inputs are sample / timestep / condition, and how timesteps must be fed."""

    def __init__(self, module: OnnxModule, source: str):
        names = module.input_names
        by = {n.lower(): n for n in names}
        self.sample = by.get("sample", names[0])
        self.timestep = by.get("timestep", by.get("timesteps", names[1] if len(names) > 1 else None))
        # SDXL's added conditions (addition_embed_type "text_time"): fed from an SdxlCond and time_ids
        self.text_embeds = by.get("text_embeds")
        self.time_ids_input = by.get("time_ids")
        if (self.text_embeds is None) != (self.time_ids_input is None):
            raise DistillError(f"{source}: the U-Net takes {self.text_embeds or self.time_ids_input} but not "
                               f"{'time_ids' if self.time_ids_input is None else 'text_embeds'}; SDXL's added "
                               f"conditions are the two together")
        rest = [n for n in names if n not in (self.sample, self.timestep, self.text_embeds, self.time_ids_input)]
        self.cond = by.get("encoder_hidden_states", rest[0] if rest else None)
        if self.text_embeds is not None and self.cond is None:
            raise DistillError(f"{source}: the U-Net takes text_embeds and time_ids but no encoder_hidden_states")
        self.time_ids: Optional[torch.Tensor] = None  # [6], set by the trainer from the pipeline
        if self.timestep is None:
            raise DistillError(f"{source}: the U-Net has no timestep input (inputs: {', '.join(names)})")
        info = module.input_info[self.timestep]
        from .ops import ONNX_TO_TORCH_DTYPE
        self.t_dtype = ONNX_TO_TORCH_DTYPE.get(info["elem_type"], torch.float32)
        self.t_scalar = info["dims"] is not None and len(info["dims"]) == 0
        self.output = module.output_names[0]
        self.sample_dims = module.input_info[self.sample]["dims"]

    def feeds(self, x, t, cond):
        tt = t.to(self.t_dtype)
        if self.t_scalar:
            tt = tt.reshape(-1)[0]
        f = {self.sample: x, self.timestep: tt}
        if self.cond is not None:
            if self.text_embeds is not None:
                if not isinstance(cond, SdxlCond):
                    raise DistillError("an SDXL U-Net needs pooled text embeddings with its encoder hidden states")
                f[self.cond], f[self.text_embeds] = cond.hidden, cond.pooled
                f[self.time_ids_input] = self.time_ids.to(x.device, x.dtype).expand(x.shape[0], -1)
            else:
                f[self.cond] = cond
        return f

    @property
    def sdxl(self) -> bool:
        return self.text_embeds is not None


class Trainer:
    def __init__(self, cfg: Dict, emit: Emitter, dist: Dist, resume_dir: Optional[str]):
        self.cfg, self.emit, self.dist = cfg, emit, dist
        self.resume_dir = resume_dir
        self.device = dist.device
        self.cancel_requested = False

    # -------------------------------------------------------------------------------------------- setup

    def _install_signals(self):
        # Until the first training step, a cancel abandons the setup at once: loading, data generation and the
        # step-0 evaluations can take minutes on a real U-Net and nothing they produce is lost (the data cache
        # is written atomically, a resume redoes the rest). Under DDP every rank must stop at the same
        # collective, so there the flag is polled instead.
        self.abandon_on_cancel = not self.dist.enabled

        def handler(signum, frame):
            if self.cancel_requested:
                return
            self.cancel_requested = True
            if self.abandon_on_cancel:
                self.emit.log(f"received signal {signum}: training has not started, stopping now")
                self.emit.raise_when_idle(SetupCancelled())
            self.emit.log(f"received signal {signum}: finishing the current step, then writing a checkpoint")
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def _load_models(self):
        cfg = self.cfg
        fused = cfg.get("fused_attention", True)
        self.teacher = OnnxModule(cfg["teacher"], trainable=False, fused_attention=fused).to(self.device).eval()
        self.student = OnnxModule(cfg["student"], trainable=True, fused_attention=fused).to(self.device)
        self.io_s = UNetIO(self.student, cfg["student"])
        self.io_t = UNetIO(self.teacher, cfg["teacher"])
        if (self.io_s.cond is None) != (self.io_t.cond is None):
            raise DistillError(f"{cfg['student']}: student and teacher disagree on being conditional")
        if self.io_s.sdxl != self.io_t.sdxl:
            raise DistillError(f"{cfg['student']}: student and teacher disagree on SDXL's added conditions "
                               f"(text_embeds, time_ids)")

    def _match_features(self):
        cfg = self.cfg
        if cfg["feature_scopes"]:
            wanted = [s.strip() for s in cfg["feature_scopes"].split(",") if s.strip()]
            t_all, s_all = self.teacher.scope_outputs(), self.student.scope_outputs()
            t_map = {k: t_all[k] for k in wanted if k in t_all}
            s_map = {k: s_all[k] for k in wanted if k in s_all}
            unknown = [k for k in wanted if k not in t_all]
            if unknown:
                raise DistillError(f"{cfg['teacher']}: no module scope {', '.join(unknown)} in the teacher")
        else:
            t_map, s_map = self.teacher.stage_outputs(), self.student.stage_outputs()
        matched = [k for k in t_map if k in s_map]
        skipped = {k: "the student has no nodes in this scope" for k in t_map if k not in s_map}
        if matched:
            probe = self._probe_batch()
            with torch.no_grad():
                t_out = self.teacher.run(self.io_t.feeds(*probe), [t_map[k] for k in matched])
                s_out = self.student.run(self.io_s.feeds(*probe), [s_map[k] for k in matched])
            for k in list(matched):
                ts, ss = tuple(t_out[t_map[k]].shape), tuple(s_out[s_map[k]].shape)
                if ts != ss:
                    skipped[k] = f"shape {list(ss)} in the student, {list(ts)} in the teacher"
                    matched.remove(k)
        self.stages = matched
        self.skipped_stages = skipped
        self.teacher.set_capture([t_map[k] for k in matched])
        self.student.set_capture([s_map[k] for k in matched])
        self.feature_values = {k: {"teacher": t_map[k], "student": s_map[k]} for k in matched}

    def _probe_batch(self):
        shape = [1] + self.latent_shape
        x = torch.zeros(shape, device=self.device)
        t = torch.full((1,), self.schedule.T // 2, dtype=torch.long, device=self.device)
        cond = None
        if self.io_s.cond is not None:
            dims = self.student.input_info[self.io_s.cond]["dims"] or []
            if self.conditioner is not None:
                cond = self.conditioner.uncond(1) if self.conditioner.mode != "embeddings" else \
                    self.conditioner.embeddings[:1].to(self.device)
            else:
                cond = torch.zeros([1] + [d if isinstance(d, int) and d > 0 else 1 for d in dims[1:]],
                                   device=self.device)
        return x, t, cond

    def unet_fn(self, module: OnnxModule, io: UNetIO):
        def run(x, t, cond):
            with self._autocast():
                out = module.run(io.feeds(x, t, cond))[io.output]
            return out.float()
        return run

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    # ---------------------------------------------------------------------------------------------- run

    def run(self) -> int:
        self._install_signals()
        try:
            return self._run()
        except SetupCancelled:
            # training never began in this process: the run folder keeps what it had (earlier checkpoints of a
            # resumed run, the data cache), and --resume continues from there
            return emit_cancelled_before_training(self.emit, self.cfg["run_dir"])

    def _run(self) -> int:
        cfg, emit, dist = self.cfg, self.emit, self.dist
        torch.manual_seed(cfg["seed"])
        np.random.seed(cfg["seed"] & 0xFFFFFFFF)
        random.seed(cfg["seed"])
        self.amp_dtype = None
        if self.device.type == "cuda" and cfg["precision"] in ("auto", "bf16", "fp16"):
            if cfg["precision"] == "fp16" or (cfg["precision"] == "auto" and not torch.cuda.is_bf16_supported()):
                self.amp_dtype = torch.float16
            else:
                self.amp_dtype = torch.bfloat16
        shown = {k: v for k, v in cfg.items() if not k.startswith("_") and k not in ("device", "precision", "world_size")}
        emit.event("start", **shown, device_requested=cfg["device"], device=str(self.device), device_name=torch.cuda.get_device_name(self.device)
                   if self.device.type == "cuda" else "cpu", precision_requested=cfg["precision"],
                   precision=str(self.amp_dtype or torch.float32).replace("torch.", ""),
                   world_size=dist.world, python=sys.executable, torch=torch.__version__, trainer=__version__,
                   resumed=self.resume_dir is not None,
                   # where the main process runs: a chart on that host can tell a killed trainer from a slow one
                   pid=os.getpid(), host=socket.gethostname())
        t0 = time.time()
        self._load_models()
        self.pipeline = Pipeline(cfg["pipeline"]) if cfg["pipeline"] else None
        if self.pipeline is None or not self.pipeline.scheduler_config_path:
            raise DistillError(f"{cfg['teacher']}: no pipeline around the U-Net (expected ../model_index.json or "
                               f"../scheduler/scheduler_config.json); pass a pipeline folder")
        self.schedule = NoiseSchedule(self.pipeline.scheduler_config(), self.pipeline.scheduler_config_path)
        self.latent_shape = self.pipeline.latent_shape(self.io_s.sample_dims)
        self.conditioner = None
        if self.io_s.sdxl:
            tid = sdxl_time_ids(self.pipeline, self.latent_shape)
            self.io_s.time_ids = self.io_t.time_ids = tid
        if self.io_s.cond is not None:
            self.conditioner = Conditioner(self.pipeline, self.device, cfg["conditions"], sdxl=self.io_s.sdxl,
                                           text_embeds_path=cfg.get("text_embeds"))
        elif cfg.get("text_embeds"):
            raise DistillError(f"{cfg['text_embeds']}: --text-embeds is for SDXL U-Nets; this U-Net is unconditional")
        guidance = cfg["guidance"] if cfg["guidance"] is not None else self.pipeline.guidance_scale()
        self.guidance = guidance if self.conditioner is not None else 1.0
        uncond_prob = cfg["uncond_prob"] if cfg["uncond_prob"] is not None else (0.1 if self.guidance != 1.0 else 0.0)
        self.uncond_prob = uncond_prob if self.conditioner is not None else 0.0
        self.uncond = self.conditioner.uncond(1) if self.conditioner is not None and self.uncond_prob > 0 else None
        self._match_features()
        n_params = sum(p.numel() for p in self.student.parameters())
        n_teacher = sum(p.numel() for p in self.teacher.parameters())
        emit.event("setup", features={"matched": self.stages, "skipped": self.skipped_stages},
                   parameters={"student": n_params, "teacher": n_teacher}, latent_shape=self.latent_shape,
                   fused_attentions={"student": self.student.fused_attentions, "teacher": self.teacher.fused_attentions},
                   guidance=self.guidance, uncond_prob=self.uncond_prob,
                   conditions=self.conditioner.describe() if self.conditioner else None,
                   seconds=round(time.time() - t0, 2))
        for k, why in self.skipped_stages.items():
            emit.log(f"feature stage {k} skipped: {why}")

        state = self._load_checkpoint() if self.resume_dir else None
        data = self._data(state)
        if data is None:
            return self._cancel(step=state["step"] if state else 0, state=state)

        self.evaluator = Evaluator(self.pipeline, self.schedule, self.conditioner, self.latent_shape,
                                   cfg["eval_samples"], cfg["eval_steps"], self.guidance, cfg["seed"], self.device,
                                   self.io_s.t_dtype, batch=cfg["sample_batch"])
        if dist.main:
            ref_path = os.path.join(cfg["run_dir"], "eval-reference.pt")
            if os.path.isfile(ref_path):
                self.evaluator.reference = torch.load(ref_path)
            else:
                self.evaluator.set_reference(self.unet_fn(self.teacher, self.io_t))
                _atomic_torch_save(self.evaluator.reference, ref_path)

        return self._train(data, state)

    # --------------------------------------------------------------------------------------------- data

    def _data(self, state) -> Optional[LatentData]:
        cfg, dist = self.cfg, self.dist
        cache = os.path.join(cfg["run_dir"], "data.pt")
        key = {k: cfg[k] for k in ("teacher", "data", "conditions", "data_samples", "data_steps", "seed")}
        if cfg.get("text_embeds"):
            key["text_embeds"] = cfg["text_embeds"]
        key["guidance"] = self.guidance
        if os.path.isfile(cache):
            saved = torch.load(cache)
            if saved.get("key") == key:
                data = LatentData.from_state(saved["data"])
                self.emit.event("data", source=data.source, samples=len(data), cached=True)
                return data
        t0 = time.time()
        if cfg["data"]:
            data = load_dir(cfg["data"], self.pipeline, self.conditioner, self.latent_shape,
                            self.pipeline.scaling_factor(), self.device) if dist.main else None
            data = dist.broadcast_object(data)
        else:
            self.emit.log(f"generating {cfg['data_samples']} training latents with the teacher "
                          f"(DDIM, {cfg['data_steps']} steps)")
            last = [time.time()]

            def progress(done, total):
                if time.time() - last[0] > 10:
                    last[0] = time.time()
                    self.emit.event("data_progress", done=done * self.dist.world, total=cfg["data_samples"])
            data = generate(self.unet_fn(self.teacher, self.io_t), self.schedule, self.conditioner,
                            self.latent_shape, cfg["data_samples"], cfg["data_steps"], self.guidance, cfg["seed"],
                            self.device, batch=cfg["sample_batch"], rank=dist.rank, world=dist.world,
                            timestep_dtype=self.io_t.t_dtype, should_stop=lambda: dist.any(self.cancel_requested),
                            progress=progress, gather=dist.gather_objects if dist.enabled else None)
            if dist.any(data is None):
                return None
        if dist.main:
            _atomic_torch_save({"key": key, "data": data.state()}, cache)
        self.emit.event("data", source=data.source, samples=len(data), cached=False,
                        seconds=round(time.time() - t0, 2))
        return data

    # ------------------------------------------------------------------------------------- checkpoints

    def _load_checkpoint(self) -> Optional[Dict]:
        path = latest_checkpoint(self.resume_dir)
        if path is None:  # stopped before training began (e.g. while generating data): start over
            self.emit.log(f"{self.resume_dir}: no checkpoint yet, starting from step 0")
            return None
        state = torch.load(path, map_location="cpu")
        self.student.load_state_dict(state["model"])
        self.emit.log(f"resuming from {path} (step {state['step']})")
        return state

    def _rng_state(self):
        return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}

    def _set_rng_state(self, s):
        torch.set_rng_state(s["torch"])
        np.random.set_state(s["numpy"])
        random.setstate(s["python"])
        if s.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(s["cuda"])

    def _save_checkpoint(self, step: int) -> Optional[str]:
        if not self.dist.main:
            return None
        path = os.path.join(self.cfg["run_dir"], f"ckpt-{step}.pt")
        _atomic_torch_save({
            "step": step, "model": self.student.state_dict(), "optimizer": self.opt.state_dict(),
            "ema": self.ema, "scaler": self.scaler.state_dict() if self.scaler else None,
            "rng": self._rng_state(), "data_cursor": {"step": step, "samples_seen": self.samples_seen},
            "best": self.best, "metrics_before": self.metrics_before, "metrics_teacher": self.metrics_teacher,
            "history": self.history, "student_sha256": self.cfg["_student_sha256"],
        }, path)
        keep = self.cfg["keep_checkpoints"]
        olds = sorted((checkpoint_step(p), p) for p in glob.glob(os.path.join(self.cfg["run_dir"], "ckpt-*.pt")))
        for s, p in olds[:-keep] if keep > 0 else []:
            if s != step:
                os.unlink(p)
        return path

    # -------------------------------------------------------------------------------------- evaluation

    def _weights(self):
        """The weights evaluated/exported: the EMA when enabled, else the live ones."""
        if self.ema is None:
            return {k: v.detach().clone() for k, v in self.student.state_dict().items()}
        sd = {k: v.detach().clone() for k, v in self.student.state_dict().items()}
        sd.update({k: v.clone() for k, v in self.ema.items()})
        return sd

    def _evaluate(self, weights=None) -> Dict[str, float]:
        live = None
        if weights is not None:
            live = {k: v.detach().clone() for k, v in self.student.state_dict().items()}
            self.student.load_state_dict(weights)
        was = self.student.training
        self.student.eval()
        caps = list(self.student._capture)
        self.student.set_capture([])
        try:
            return self.evaluator.evaluate(self.unet_fn(self.student, self.io_s))
        finally:
            self.student.set_capture(caps)
            self.student.train(was)
            if live is not None:
                self.student.load_state_dict(live)

    def _better(self, m: Dict, best: Optional[Dict]) -> bool:
        """Is evaluation `m` better than the best so far, by --select-by (default: the pipeline's metric)?"""
        key = self.cfg.get("select_by") or self.evaluator.primary
        if best is None or key == "last":
            return True
        if key not in m:
            raise DistillError(f"--select-by {key}: the evaluation reports only {', '.join(m)}")
        if key == "class_accuracy":
            return m[key] > best["metrics"].get(key, -math.inf)
        return m[key] < best["metrics"].get(key, math.inf)

    # -------------------------------------------------------------------------------------------- train

    def _train(self, data: LatentData, state: Optional[Dict]) -> int:
        cfg, emit, dist = self.cfg, self.emit, self.dist
        params = [p for p in self.student.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(params, lr=cfg["lr"], betas=(cfg["adam_beta1"], cfg["adam_beta2"]),
                                     weight_decay=cfg["weight_decay"])
        self.scaler = torch.cuda.amp.GradScaler() if self.amp_dtype == torch.float16 else None
        self.ema = None
        if cfg["ema_decay"] > 0:
            self.ema = {k: v.detach().clone() for k, v in self.student.state_dict().items()
                        if v.dtype.is_floating_point}
        self.best, self.history = None, []
        self.samples_seen = 0
        start = 0
        if state is not None:
            if state.get("student_sha256") != cfg["_student_sha256"]:
                raise DistillError(f"{cfg['student']}: the student model changed since the run started; "
                                   f"resume needs the same file")
            self.opt.load_state_dict(state["optimizer"])
            if self.scaler and state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            self.ema = state["ema"]
            self.best, self.history = state["best"], state["history"]
            self.metrics_before, self.metrics_teacher = state["metrics_before"], state["metrics_teacher"]
            self.samples_seen = state["data_cursor"]["samples_seen"]
            start = state["step"]
            self._set_rng_state(state["rng"])
            # what a chart drops: anything logged after this checkpoint is redone
            emit.event("resume", step=start)
        else:
            self.metrics_before = self.metrics_teacher = None
            if dist.main:
                self.metrics_teacher = self.evaluator.evaluate(self.unet_fn(self.teacher, self.io_t))
                self.metrics_before = self._evaluate()
                self.best = {"step": 0, "metrics": self.metrics_before, "weights": self._weights()}
                emit.event("eval", step=0, metrics=self.metrics_before, teacher=self.metrics_teacher, best=True)
            self._save_checkpoint(0)
        self.abandon_on_cancel = False  # from here a cancel finishes the step and writes a checkpoint

        model = self.student
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP
            model = DDP(self.student, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.student.train()
        accum, B = cfg["grad_accum"], cfg["batch_size"]
        lt, lo, lf = cfg["lambda_task"], cfg["lambda_out"], cfg["lambda_feat"]
        window = {"loss": 0.0, "task": 0.0, "out": 0.0, "feat": 0.0, "n": 0, "t0": time.time(), "samples": 0}
        step = start
        for step in range(start + 1, cfg["steps"] + 1):
            # runs saved before these settings existed trained with a constant LR and plain feature MSEs
            lr = learning_rate(step, cfg["lr"], cfg["steps"], cfg["warmup_steps"], cfg.get("lr_schedule", "constant"))
            for group in self.opt.param_groups:
                group["lr"] = lr
            parts = torch.zeros(4, dtype=torch.float64)
            for micro in range(accum):
                x0, cond, t, noise, _ = training_batch(data, self.schedule, step, micro, accum, dist.rank,
                                                       dist.world, B, cfg["seed"], self.uncond, self.uncond_prob)
                x0, t, noise = x0.to(self.device), t.to(self.device), noise.to(self.device)
                cond = cond.to(self.device) if cond is not None else None
                x_t = self.schedule.add_noise(x0, noise, t)
                target = self.schedule.target(x0, noise, t)
                with torch.no_grad(), self._autocast():
                    t_out, t_feats = self._forward(self.teacher, self.io_t, x_t, t, cond)
                sync = nullcontext() if not dist.enabled or micro == accum - 1 else model.no_sync()
                with sync:
                    with self._autocast():
                        s_out, s_feats = self._forward(model, self.io_s, x_t, t, cond)
                    loss, p = distillation_loss(s_out, t_out, target, s_feats, t_feats, lt, lo, lf,
                                                cfg.get("feat_norm", "none"))
                    scaled = loss / accum
                    if self.scaler:
                        self.scaler.scale(scaled).backward()
                    else:
                        scaled.backward()
                parts += torch.tensor([loss.item(), p["task"].item(), p["out"].item(), p["feat"].item()],
                                      dtype=torch.float64) / accum
            if self.scaler:
                self.scaler.unscale_(self.opt)
            if cfg["max_grad_norm"] and cfg["max_grad_norm"] > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg["max_grad_norm"])
            if self.scaler:
                self.scaler.step(self.opt)
                self.scaler.update()
            else:
                self.opt.step()
            self.opt.zero_grad(set_to_none=True)
            if self.ema is not None:
                d = cfg["ema_decay"]
                with torch.no_grad():
                    sd = self.student.state_dict()
                    for k, v in self.ema.items():
                        v.mul_(d).add_(sd[k].detach(), alpha=1 - d)
            self.samples_seen += B * accum * dist.world
            vals = dist.mean(parts.tolist())
            window["loss"] += vals[0]
            window["task"] += vals[1]
            window["out"] += vals[2]
            window["feat"] += vals[3]
            window["n"] += 1
            window["samples"] += B * accum * dist.world
            if step % cfg["log_every"] == 0 or step == cfg["steps"] or step == start + 1:
                dt = max(time.time() - window["t0"], 1e-9)
                n = window["n"]
                emit.event("step", step=step, loss=window["loss"] / n, loss_task=window["task"] / n,
                           loss_out=window["out"] / n, loss_feat=window["feat"] / n, lr=lr,
                           samples_per_s=round(window["samples"] / dt, 3))
                window = {"loss": 0.0, "task": 0.0, "out": 0.0, "feat": 0.0, "n": 0, "t0": time.time(), "samples": 0}
            if dist.any(self.cancel_requested):
                return self._cancel(step)
            if cfg["eval_every"] and step % cfg["eval_every"] == 0 and step != cfg["steps"]:
                self._eval_step(step)
            if cfg["checkpoint_every"] and step % cfg["checkpoint_every"] == 0 and step != cfg["steps"]:
                path = self._save_checkpoint(step)
                emit.event("checkpoint", step=step, path=path)
                dist.barrier()
        final = cfg["steps"]
        if start < final:
            self._eval_step(final)
            path = self._save_checkpoint(final)
            emit.event("checkpoint", step=final, path=path)
        return self._finish()

    def _forward(self, model, io: UNetIO, x_t, t, cond):
        res = model(**io.feeds(x_t, t, cond))
        # with no matched feature scopes nothing is captured and the model returns its output alone
        return res if isinstance(res, tuple) else (res, [])

    def _eval_step(self, step: int):
        if self.dist.main:
            m = self._evaluate(self._weights() if self.ema is not None else None)
            better = self._better(m, self.best)
            if better:
                self.best = {"step": step, "metrics": m, "weights": self._weights()}
            self.history.append({"step": step, "metrics": m})
            self.emit.event("eval", step=step, metrics=m, best=better)
        self.dist.barrier()

    def _cancel(self, step: int, state=None) -> int:
        # Before the optimizer exists nothing has been trained: no checkpoint, and --resume starts over.
        path = self._save_checkpoint(step) if hasattr(self, "opt") else None
        self.emit.event("cancelled", step=step, checkpoint=path)
        return CANCEL_EXIT

    # ------------------------------------------------------------------------------------------- export

    def _finish(self) -> int:
        cfg, emit = self.cfg, self.emit
        if not self.dist.main:
            self.dist.barrier()
            return 0
        best = self.best
        result = {"best_step": best["step"] if best else None, "metrics_before": self.metrics_before,
                  "metrics_teacher": self.metrics_teacher, "metrics_best": best["metrics"] if best else None,
                  "history": self.history}
        if self.device.type == "cuda":  # what a user sizes --batch-size and the GPU by
            result["gpu_memory_peak_gb"] = round(torch.cuda.max_memory_allocated(self.device) / 2**30, 2)
        if not cfg["export"]:
            emit.event("done", output=None, metrics_after=best["metrics"] if best else None, **result)
            self.dist.barrier()
            return 0
        self.student.load_state_dict(best["weights"])
        self.student.eval()
        self.student.set_capture([])
        out_path = cfg["output"]
        g = torch.Generator().manual_seed(cfg["seed"])
        x = torch.randn([2] + self.latent_shape, generator=g)
        t = torch.tensor([self.schedule.T - 1, 1])
        cond = None
        if self.io_s.cond is not None:
            cond = self.evaluator.cond[:2].clone() if self.evaluator.cond is not None else \
                torch.randn([2] + [d for d in self.student.input_info[self.io_s.cond]["dims"][1:]], generator=g)
        example = {k: v.cpu() for k, v in self.io_s.feeds(x, t, cond).items()}
        # Module.to moves in place: the student stays on the CPU until the exported file has been checked against it
        self.student.to("cpu")
        export_onnx(self.student, example, out_path)
        check = self._check_export(out_path, self.student, example)
        self.student.to(self.device)
        exported = OnnxModule(out_path, trainable=False).to(self.device).eval()
        io = UNetIO(exported, out_path)
        io.time_ids = self.io_s.time_ids
        metrics_after = self.evaluator.evaluate(self.unet_fn(exported, io))
        emit.event("done", output=out_path, metrics_after=metrics_after, export_check=check, **result)
        self.dist.barrier()
        return 0

    def _check_export(self, path: str, student: OnnxModule, example: Dict) -> Dict:
        import onnx
        onnx.checker.check_model(path)
        reloaded = OnnxModule(path, trainable=False).eval()
        g = torch.Generator().manual_seed(self.cfg["seed"] + 1)
        feeds = {}
        for k, v in example.items():  # a different batch size than the export's, to prove dynamic batch
            if v.is_floating_point() and k != self.io_s.timestep:
                feeds[k] = torch.randn([3] + list(v.shape[1:]), generator=g)
            else:
                feeds[k] = torch.cat([v, v[:1]]) if v.dim() > 0 else v
        with torch.no_grad():
            ref = student.run(feeds)[student.output_names[0]]
            got = reloaded.run(feeds)[reloaded.output_names[0]]
        diff = float((ref - got).abs().max())
        tol = 1e-4 + 1e-3 * float(ref.abs().max())
        scoped = sum(1 for n, *_ in reloaded.nodes() if n.startswith("/"))
        if diff > tol:
            raise DistillError(f"{path}: the exported model differs from the trained student by {diff:.3g} "
                               f"(tolerance {tol:.3g})")
        return {"max_abs_diff": diff, "tolerance": tol, "checker": "ok", "scoped_nodes": scoped,
                "nodes": len(reloaded.nodes()), "stages": list(reloaded.stage_outputs())}


def build_config(args: Dict, emit: Emitter) -> Dict:
    """CLI arguments (None = not given) -> full run configuration; on --resume, the saved one with overrides."""
    resume = args.get("resume")
    if resume:
        path = os.path.join(resume, "config.json")
        if not os.path.isfile(path):
            raise DistillError(f"{resume}: not a run folder (no config.json)")
        with open(path) as f:
            cfg = json.load(f)
        for k, v in args.items():
            if v is None or k in ("resume", "student", "teacher", "run_dir"):
                continue
            if k in RESUME_OVERRIDABLE:
                cfg[k] = v
            elif k in cfg and cfg[k] != v:
                raise DistillError(f"--{k.replace('_', '-')} differs from the run being resumed ({cfg[k]!r}); "
                                   f"only {', '.join(sorted(RESUME_OVERRIDABLE))} may change")
        cfg["run_dir"] = os.path.abspath(resume)
        if cfg.get("_student_sha256") and os.path.isfile(cfg["student"]) and \
                _sha256(cfg["student"]) != cfg["_student_sha256"]:
            raise DistillError(f"{cfg['student']}: the student model changed since the run started")
        return cfg
    if not args.get("student"):
        raise DistillError("--student is required (a pipeline folder or a U-Net .onnx)")
    cfg = dict(DEFAULTS)
    cfg.update({k: v for k, v in args.items() if v is not None and k in DEFAULTS})
    student, s_pipe = resolve_unet(args["student"])
    teacher_arg = args.get("teacher")
    if teacher_arg:
        teacher, t_pipe = resolve_unet(teacher_arg)
    elif s_pipe and os.path.isfile(os.path.join(s_pipe, "unet", "model.onnx")) and \
            os.path.abspath(os.path.join(s_pipe, "unet", "model.onnx")) != student:
        teacher, t_pipe = os.path.join(s_pipe, "unet", "model.onnx"), s_pipe
    else:
        raise DistillError(f"{student}: --teacher is required (the student is its pipeline's own unet/model.onnx)")
    if os.path.samefile(student, teacher):
        raise DistillError(f"{student}: the student and the teacher are the same file")
    cfg["student"], cfg["teacher"] = student, teacher
    cfg["pipeline"] = t_pipe or s_pipe
    cfg["output"] = os.path.abspath(cfg["output"]) if cfg["output"] else default_output(student)
    if os.path.abspath(cfg["output"]) in (student, teacher):
        raise DistillError(f"{cfg['output']}: the output would overwrite an input model")
    cfg["run_dir"] = os.path.abspath(args["run_dir"]) if args.get("run_dir") else default_run_dir(student)
    if cfg["data"]:
        cfg["data"] = os.path.abspath(cfg["data"])
    if cfg["conditions"]:
        cfg["conditions"] = os.path.abspath(cfg["conditions"])
    if cfg.get("text_embeds"):
        cfg["text_embeds"] = os.path.abspath(cfg["text_embeds"])
    for k in ("steps", "batch_size", "grad_accum", "data_samples", "data_steps", "eval_samples", "eval_steps"):
        if int(cfg[k]) < 1:
            raise DistillError(f"--{k.replace('_', '-')} must be at least 1")
    cfg["_student_sha256"] = _sha256(student)
    cfg["threads"] = cfg["threads"] or torch.get_num_threads()
    return cfg


def _saved_device(run_dir: Optional[str]) -> Optional[str]:
    try:
        with open(os.path.join(run_dir, "config.json")) as f:
            return json.load(f).get("device")
    except (OSError, TypeError, ValueError):
        return None


def main_train(args: Dict) -> int:
    rank = int(os.environ.get("RANK", "0"))
    emit = Emitter(rank == 0)
    dist = None
    try:
        dist = Dist(args.get("device") or _saved_device(args.get("resume")) or DEFAULTS["device"])
        cfg = None
        if dist.main:
            try:
                cfg = build_config(args, emit)
            except (DistillError, PipelineError) as e:
                cfg = e
        cfg = dist.broadcast_object(cfg)  # one run folder (its name has a timestamp) for every rank
        if isinstance(cfg, Exception):
            raise cfg
        torch.set_num_threads(int(cfg["threads"]))
        if dist.main:
            os.makedirs(cfg["run_dir"], exist_ok=True)
            remove_stale(cfg["run_dir"], RUN_TEMP)  # a killed earlier run's half-saved checkpoint or json
            if not args.get("resume"):
                if os.path.isfile(os.path.join(cfg["run_dir"], "config.json")):
                    raise DistillError(f"{cfg['run_dir']}: already holds a run; use --resume {cfg['run_dir']}")
            _atomic_json({**cfg, "world_size": dist.world}, os.path.join(cfg["run_dir"], "config.json"))
            emit.attach(os.path.join(cfg["run_dir"], "events.jsonl"))
        dist.barrier()
        trainer = Trainer(cfg, emit, dist, args.get("resume"))
        return trainer.run()
    except KeyboardInterrupt:  # a cancel before the trainer's own signal handler was installed
        return emit_cancelled_before_training(emit, args.get("resume"))
    except (DistillError, PipelineError, OnnxImportError, SchedulerConfigError) as e:
        emit.event("error", message=str(e))
        emit.log(f"error: {e}")
        return 2
    except Exception as e:  # unexpected: still one JSON line for the caller, traceback for a human
        import traceback
        emit.event("error", message=f"{type(e).__name__}: {e}")
        traceback.print_exc()
        return 1
    finally:
        if dist is not None:
            dist.close()
