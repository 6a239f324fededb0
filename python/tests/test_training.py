"""The trainer end to end, through its command line: progress protocol, cancellation, exact resume, DDP, data."""
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np
import onnx
import torch
from onnx import helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

from ld_surgeon_distill.conditions import Conditioner  # noqa: E402
from ld_surgeon_distill.data import load_dir  # noqa: E402
from ld_surgeon_distill.export import write_model_atomic  # noqa: E402
from ld_surgeon_distill.pipeline import Pipeline, PipelineError  # noqa: E402
from ld_surgeon_distill.png import write_png  # noqa: E402
from ld_surgeon_distill.train import Emitter, SetupCancelled  # noqa: E402

from fixtures import ENV, distill, events  # noqa: E402

PY = sys.executable
SMALL = ["--batch-size", "4", "--data-samples", "8", "--data-steps", "3", "--eval-samples", "6", "--eval-steps", "3",
         "--log-every", "1", "--threads", "1"]


_SHARED = {}


def setUpModule():
    tmp = tempfile.mkdtemp(prefix="ldsd-train-")
    root = os.path.join(tmp, "pipe")
    fixtures.build_pipeline(root, conditional=True, vae_encoder=True)
    _SHARED.update(tmp=tmp, root=root, student=fixtures.make_student(root))


def tearDownModule():
    shutil.rmtree(_SHARED["tmp"], ignore_errors=True)


class TinyPipelineCase(unittest.TestCase):
    """A random-weight conditional pipeline (built once per module) and a student with mid_block.attentions.0
    bypassed."""

    @classmethod
    def setUpClass(cls):
        cls.root, cls.student = _SHARED["root"], _SHARED["student"]
        cls.tmp = tempfile.mkdtemp(prefix="case-", dir=_SHARED["tmp"])


class ResumeTest(TinyPipelineCase):
    def test_cancel_then_resume_gives_the_uninterrupted_losses(self):
        steps = ["--steps", "8", "--eval-every", "4", "--checkpoint-every", "3", "--lr", "1e-3", "--no-export",
                 "--ema-decay", "0.9"]
        full_dir = os.path.join(self.tmp, "full")
        rc, full, err = distill("--student", self.student, "--run-dir", full_dir, *SMALL, *steps)
        self.assertEqual(rc, 0, err)
        want = {e["step"]: e for e in full if e["event"] == "step"}
        self.assertEqual(sorted(want), list(range(1, 9)))

        run_dir = os.path.join(self.tmp, "cancelled")
        p = subprocess.Popen([PY, "-m", "ld_surgeon_distill", "--student", self.student, "--run-dir", run_dir,
                              *SMALL, *steps], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = []
        for line in p.stdout:
            e = json.loads(line)
            first.append(e)
            if e["event"] == "step" and e["step"] >= 2:
                p.send_signal(signal.SIGTERM)
                break
        rest, err = p.communicate(timeout=300)
        first += events(rest)
        self.assertEqual(p.returncode, 130, err)
        cancelled = [e for e in first if e["event"] == "cancelled"]
        self.assertEqual(len(cancelled), 1)
        stop = cancelled[0]["step"]
        self.assertTrue(2 <= stop < 8, stop)
        self.assertTrue(os.path.isfile(cancelled[0]["checkpoint"]))
        self.assertEqual(os.path.basename(cancelled[0]["checkpoint"]), f"ckpt-{stop}.pt")

        rc, resumed, err = distill("--resume", run_dir)
        self.assertEqual(rc, 0, err)
        self.assertTrue(resumed[0]["resumed"])
        got = {e["step"]: e for e in first + resumed if e["event"] == "step"}
        self.assertEqual(sorted(got), list(range(1, 9)))
        for k in range(1, 9):
            for key in ("loss", "loss_task", "loss_out", "loss_feat"):
                self.assertEqual(got[k][key], want[k][key], f"step {k} {key}")
        done_full = [e for e in full if e["event"] == "done"][0]
        done_resumed = [e for e in resumed if e["event"] == "done"][0]
        self.assertEqual(done_resumed["metrics_best"], done_full["metrics_best"])
        self.assertEqual(done_resumed["metrics_before"], done_full["metrics_before"])

    def test_cancel_before_training_stops_at_once_and_resume_reuses_the_data(self):
        # a long step-0 evaluation (many samples, one at a time): a cancel while it runs must not wait for it
        slow_eval = ["--batch-size", "4", "--data-samples", "8", "--data-steps", "3", "--eval-samples", "400",
                     "--eval-steps", "3", "--sample-batch", "1", "--threads", "1", "--steps", "2", "--no-export"]
        run_dir = os.path.join(self.tmp, "cancelled-in-setup")
        p = subprocess.Popen([PY, "-m", "ld_surgeon_distill", "--student", self.student, "--run-dir", run_dir,
                              *slow_eval], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = []
        for line in p.stdout:
            seen.append(json.loads(line))
            if seen[-1]["event"] == "data":
                p.send_signal(signal.SIGINT)
                signalled = time.monotonic()
                break
        rest, err = p.communicate(timeout=300)
        waited = time.monotonic() - signalled
        seen += events(rest)
        self.assertEqual(p.returncode, 130, err)
        self.assertEqual([e["event"] for e in seen if e["event"] in ("eval", "step", "cancelled")], ["cancelled"])
        self.assertEqual(seen[-1], {"event": "cancelled", "step": 0, "checkpoint": None})
        # generous: the step-0 evaluations alone take far longer than this on any machine
        self.assertLess(waited, 20, "the cancel waited for the evaluation")
        self.assertEqual(sorted(os.listdir(run_dir)), ["config.json", "data.pt", "events.jsonl"])

        rc, resumed, err = distill("--resume", run_dir, timeout=900)
        self.assertEqual(rc, 0, err)
        data = [e for e in resumed if e["event"] == "data"]
        self.assertEqual(len(data), 1)
        self.assertTrue(data[0]["cached"], "the resumed run reuses the generated training latents")
        self.assertEqual([e["step"] for e in resumed if e["event"] == "step"], [1, 2])

    def test_resume_refuses_a_changed_training_setting(self):
        run_dir = os.path.join(self.tmp, "short")
        rc, ev, err = distill("--student", self.student, "--run-dir", run_dir, *SMALL, "--steps", "1", "--no-export",
                              "--eval-every", "0")
        self.assertEqual(rc, 0, err)
        rc, ev, _ = distill("--resume", run_dir, "--lr", "0.5")
        self.assertEqual(rc, 2)
        self.assertEqual(ev[-1]["event"], "error")
        self.assertIn("--lr differs", ev[-1]["message"])
        rc, ev, err = distill("--resume", run_dir, "--steps", "2", "--eval-every", "0")
        self.assertEqual(rc, 0, err)
        self.assertEqual([e["step"] for e in ev if e["event"] == "step"], [2])


class ProtocolTest(TinyPipelineCase):
    def test_full_run_reports_and_exports_a_checked_model(self):
        run_dir = os.path.join(self.tmp, "proto")
        out = os.path.join(self.tmp, "out", "student.distilled.onnx")
        rc, ev, err = distill("--student", self.student, "--run-dir", run_dir, "--output", out, *SMALL,
                              "--steps", "3", "--eval-every", "2", "--checkpoint-every", "2")
        self.assertEqual(rc, 0, err)
        kinds = [e["event"] for e in ev]
        self.assertEqual(kinds[0], "start")
        self.assertEqual(kinds[-1], "done")
        start = ev[0]
        self.assertEqual(start["python"], sys.executable)
        self.assertEqual(start["torch"], torch.__version__)
        self.assertEqual(start["device"], "cpu")
        setup = [e for e in ev if e["event"] == "setup"][0]
        self.assertEqual(setup["features"]["matched"],
                         ["down_blocks.0", "down_blocks.1", "mid_block", "up_blocks.0", "up_blocks.1"])
        for e in ev:
            if e["event"] == "step":
                self.assertTrue({"loss", "loss_task", "loss_out", "loss_feat", "lr", "samples_per_s"} <= set(e))
        ckpts = [e for e in ev if e["event"] == "checkpoint"]
        self.assertTrue(all(os.path.isfile(c["path"]) for c in ckpts))
        with open(os.path.join(run_dir, "config.json")) as f:
            self.assertEqual(json.load(f)["student"], self.student)
        done = ev[-1]
        self.assertEqual(done["output"], out)
        self.assertTrue(os.path.isfile(out))
        onnx.checker.check_model(out)
        self.assertLessEqual(done["export_check"]["max_abs_diff"], done["export_check"]["tolerance"])
        self.assertEqual(done["export_check"]["stages"], setup["features"]["matched"])  # scopes survive export
        self.assertIn("latent_score", done["metrics_after"])
        self.assertIn("latent_score", done["metrics_before"])
        self.assertEqual(sorted(os.listdir(os.path.dirname(out))), ["student.distilled.onnx"])  # no temp leftovers
        # readable like any file the user writes (not the temp file's 0600)
        mask = os.umask(0)
        os.umask(mask)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o666 & ~mask)
        # where the trainer ran, so a chart on this machine can tell when it is gone
        self.assertEqual(start["host"], socket.gethostname())
        self.assertIsInstance(start["pid"], int)
        self.assertNotIn(start["pid"], (0, os.getpid()))

    def test_unsupported_student_fails_before_training(self):
        m = onnx.load(self.student)
        bad = m.graph.node[5]
        bad.op_type = "NonZero"
        path = os.path.join(self.tmp, "bad.onnx")
        write_model_atomic(m, path)
        rc, ev, _ = distill("--student", path, "--teacher", self.root, "--run-dir", os.path.join(self.tmp, "bad"),
                            *SMALL, "--steps", "2")
        self.assertEqual(rc, 2)
        self.assertEqual(ev[-1]["event"], "error")
        self.assertIn("NonZero", ev[-1]["message"])
        self.assertIn(bad.name, ev[-1]["message"])
        self.assertFalse(any(e["event"] == "step" for e in ev))

    def test_student_equal_to_teacher_is_refused(self):
        rc, ev, _ = distill("--student", self.root)
        self.assertEqual(rc, 2)
        self.assertIn("--teacher is required", ev[-1]["message"])

    def test_check_prints_one_json_line(self):
        p = subprocess.run([PY, "-m", "ld_surgeon_distill", "--check"], env=ENV, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        lines = p.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1)
        info = json.loads(lines[0])
        self.assertEqual(info["python"], sys.executable)
        self.assertEqual(info["torch"], torch.__version__)
        self.assertEqual(info["onnx"], onnx.__version__)
        self.assertIn("cuda_available", info)
        self.assertEqual(info["missing"], [])


class EmitterTest(unittest.TestCase):
    def test_a_cancel_during_an_event_write_is_raised_once_the_event_is_out_everywhere(self):
        folder = tempfile.mkdtemp(prefix="ldsd-emit-")
        self.addCleanup(shutil.rmtree, folder, True)
        emit = Emitter(True)
        emit.attach(os.path.join(folder, "events.jsonl"))

        class Stdout(io.StringIO):
            def flush(self):  # the signal lands between the stdout write and the events.jsonl write
                emit.raise_when_idle(SetupCancelled())
        with contextlib.redirect_stdout(Stdout()) as out:
            with self.assertRaises(SetupCancelled):
                emit.event("data_progress", done=8, total=16)
        emit.file.close()
        with open(os.path.join(folder, "events.jsonl")) as f:
            self.assertEqual(f.read(), out.getvalue())
        self.assertEqual(json.loads(out.getvalue()), {"event": "data_progress", "done": 8, "total": 16})


class DistributedTest(TinyPipelineCase):
    def test_two_processes_equal_one_with_the_global_batch(self):
        common = ["--student", self.student, "--steps", "3", "--data-samples", "8", "--data-steps", "3",
                  "--eval-samples", "6", "--eval-steps", "3", "--log-every", "1", "--eval-every", "0",
                  "--no-export", "--lr", "1e-3", "--threads", "1"]
        rc, single, err = distill(*common, "--batch-size", "4", "--run-dir", os.path.join(self.tmp, "single"))
        self.assertEqual(rc, 0, err)
        p = subprocess.run([PY, "-m", "ld_surgeon_distill.torchrun", "--nproc_per_node=2", "-m",
                            "ld_surgeon_distill", *common, "--batch-size", "2",
                            "--run-dir", os.path.join(self.tmp, "ddp")], env=ENV, capture_output=True, text=True,
                           timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        ddp = events(p.stdout)  # rank 1 prints nothing: every stdout line is rank 0's
        self.assertEqual(sum(1 for e in ddp if e["event"] == "start"), 1)
        self.assertEqual(ddp[0]["world_size"], 2)
        a = [e for e in single if e["event"] == "step"]
        b = [e for e in ddp if e["event"] == "step"]
        self.assertEqual([e["step"] for e in a], [e["step"] for e in b])
        for x, y in zip(a, b):
            self.assertAlmostEqual(x["loss"], y["loss"], delta=1e-5 * abs(x["loss"]))
        # gradient accumulation over two micro-batches of 2 is the same optimisation as batch 4
        rc, accum, err = distill(*common, "--batch-size", "2", "--grad-accum", "2",
                                 "--run-dir", os.path.join(self.tmp, "accum"))
        self.assertEqual(rc, 0, err)
        for x, y in zip(a, [e for e in accum if e["event"] == "step"]):
            self.assertAlmostEqual(x["loss"], y["loss"], delta=1e-5 * abs(x["loss"]))
        da = [e for e in single if e["event"] == "done"][0]["metrics_best"]["latent_score"]
        db = [e for e in ddp if e["event"] == "done"][0]["metrics_best"]["latent_score"]
        self.assertAlmostEqual(da, db, delta=1e-4 * abs(da))


class ModelArgumentTest(TinyPipelineCase):
    def test_pipeline_folder_or_bare_unet_file(self):
        from ld_surgeon_distill.pipeline import resolve_unet
        unet = os.path.join(self.root, "unet", "model.onnx")
        self.assertEqual(resolve_unet(self.root), (unet, self.root))
        self.assertEqual(resolve_unet(self.student), (self.student, self.root))
        self.assertEqual(resolve_unet(os.path.join(self.root, "unet")), (unet, self.root))
        lone = os.path.join(self.tmp, "lone.onnx")
        shutil.copy(unet, lone)
        self.assertEqual(resolve_unet(lone), (lone, None))
        with self.assertRaisesRegex(PipelineError, "no such file"):
            resolve_unet(os.path.join(self.tmp, "missing.onnx"))


class DataDirTest(TinyPipelineCase):
    def test_png_npy_and_latent_files_with_conditions(self):
        d = os.path.join(self.tmp, "data")
        os.makedirs(d, exist_ok=True)
        img = (np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint8)
        write_png(os.path.join(d, "a.png"), img)
        write_png(os.path.join(d, "b.png"), np.stack([img, img, img], axis=2))  # RGB -> gray for a 1-channel VAE
        np.save(os.path.join(d, "c.npy"), np.zeros((2, 1, 32, 32), np.float32))
        np.save(os.path.join(d, "d.latent.npy"), np.ones((4, 8, 8), np.float32))
        with open(os.path.join(d, "conditions.json"), "w") as f:
            json.dump({"a.png": "a digit two", "b.png": {"label": 1}, "c.npy": ["a digit zero", {"label": 3}],
                       "*": "a digit one"}, f)
        pipe = Pipeline(self.root)
        cond = Conditioner(pipe, torch.device("cpu"))
        data = load_dir(d, pipe, cond, [4, 8, 8], 1.0, torch.device("cpu"))
        self.assertEqual(tuple(data.x0.shape), (5, 4, 8, 8))
        self.assertTrue(torch.equal(data.x0[4], torch.ones(4, 8, 8)))  # the latent file, unchanged
        self.assertEqual(tuple(data.cond.shape), (5, 6, 16))
        # gray and RGB versions of the same picture encode to the same latent
        torch.testing.assert_close(data.x0[0], data.x0[1], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(data.cond[1], cond.for_prompts(["a digit one"])[0])
        torch.testing.assert_close(data.cond[3], cond.for_prompts(["a digit three"])[0])

        os.unlink(os.path.join(d, "conditions.json"))
        with open(os.path.join(d, "conditions.json"), "w") as f:
            json.dump({"a.png": "a digit two"}, f)
        with self.assertRaisesRegex(PipelineError, "no entry for 'b.png'"):
            load_dir(d, pipe, cond, [4, 8, 8], 1.0, torch.device("cpu"))

        rc, ev, err = distill("--student", self.student, "--data", os.path.join(self.tmp, "nodata"),
                              "--run-dir", os.path.join(self.tmp, "r-nodata"), *SMALL, "--steps", "1")
        self.assertEqual(rc, 2)
        self.assertIn("not a folder", ev[-1]["message"])


if __name__ == "__main__":
    unittest.main()
