"""Distillation on the example conditional pipeline recovers a student with one block removed.

The student is examples/digits-cond's U-Net with one residual block bypassed by an ONNX edit (every other weight
preserved), standing in for a pruner's output. A short run must lower the distillation loss and bring the
student's samples closer to the teacher's: the latent score (LD-Pruner's ||mean diff|| + ||std diff|| of final
latents for the same seeds and prompts) of the exported model must fall below the not-distilled student's.
FID (the pipeline's classifier metric) is printed too but not asserted: at 50 evaluation samples its sampling
noise (about +-3 between equally good models) is larger than what 100 steps recover."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

from ld_surgeon_distill.export import write_model_atomic  # noqa: E402
from ld_surgeon_distill.graph_edit import bypass_scope  # noqa: E402
from ld_surgeon_distill.onnx_import import OnnxModule  # noqa: E402

PIPELINE = os.path.join(fixtures.REPO, "examples", "digits-cond")
# The first attention of the full-resolution up stage: in the trained example, bypassing it raises FID by about
# half (21 -> 31 at 50 samples / 10 steps) while bypassing mid_block.attentions.0 changes nothing, so there is
# something for distillation to recover.
CANDIDATES = ["up_blocks.2.attentions.0", "up_blocks.1.attentions.0", "mid_block.attentions.0"]


@unittest.skipUnless(os.path.isfile(os.path.join(PIPELINE, "model_index.json")), "examples/digits-cond missing")
class ExampleDistillationTest(unittest.TestCase):
    def test_distillation_recovers_a_student_with_a_block_removed(self):
        tmp = tempfile.mkdtemp(prefix="ldsd-example-")
        try:
            teacher = onnx.load(os.path.join(PIPELINE, "unet", "model.onnx"))
            scopes = OnnxModule(os.path.join(PIPELINE, "unet", "model.onnx"), trainable=False).scope_outputs()
            scope = next(s for s in CANDIDATES if s in scopes)
            student = os.path.join(tmp, "unet.pruned.onnx")
            write_model_atomic(bypass_scope(teacher, scope), student)
            cmd = [sys.executable, "-m", "ld_surgeon_distill", "--student", student, "--teacher", PIPELINE,
                   "--run-dir", os.path.join(tmp, "run"), "--steps", "100", "--batch-size", "8", "--lr", "3e-4",
                   "--data-samples", "48", "--data-steps", "8", "--eval-samples", "50", "--eval-steps", "8",
                   "--eval-every", "0", "--checkpoint-every", "0", "--log-every", "10", "--seed", "0",
                   "--select-by", "latent_score"]
            env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
            self.assertEqual(p.returncode, 0, p.stderr[-3000:])
            ev = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
            steps = [e for e in ev if e["event"] == "step"]
            done = ev[-1]
            self.assertEqual(done["event"], "done")
            kd = lambda e: e["loss_out"] + e["loss_feat"]
            first, last = kd(steps[0]), sum(kd(e) for e in steps[-3:]) / 3
            before, after, teacher_m = done["metrics_before"], done["metrics_after"], done["metrics_teacher"]
            metric = "FID" if "FID" in before else next(k for k in before if k != "latent_score")
            print(f"\nexample distillation (student: {scope} bypassed, 100 steps): KD loss {first:.4f} -> {last:.4f}; "
                  f"{metric} teacher {teacher_m[metric]:.2f}, student before {before[metric]:.2f}, after "
                  f"{after[metric]:.2f}; latent score before {before['latent_score']:.3f}, after "
                  f"{after['latent_score']:.3f}; class accuracy {before.get('class_accuracy')} -> "
                  f"{after.get('class_accuracy')}")
            self.assertLess(last, 0.75 * first, "the distillation loss must fall")
            self.assertLess(after["latent_score"], 0.8 * before["latent_score"], "closer to the teacher")
            self.assertIn(metric, after)
            self.assertEqual(done["best_step"], 100)
            self.assertTrue(os.path.isfile(done["output"]))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
