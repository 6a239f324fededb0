"""Feature KD on a pruned depth stack (issue 19): the student's remaining transformer blocks are matched to the
teacher blocks they came from — by module scope, which the pruner keeps — never by position. The shipped DiT
(examples/digits-dit) with blocks 1 and 3 of its six removed: student block 2 pairs with teacher block 2 (not
teacher block 1, the second block of each), and the removed blocks are reported as skipped."""
import os
import shutil
import sys
import tempfile
import unittest

import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ld_surgeon_distill.export import write_model_atomic  # noqa: E402
from ld_surgeon_distill.graph_edit import bypass_scope  # noqa: E402
from ld_surgeon_distill.onnx_import import OnnxModule  # noqa: E402

from fixtures import distill  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIT = os.path.join(ROOT, "examples", "digits-dit")
BLOCKS = [f"transformer_blocks.{i}" for i in range(6)]
REMOVED = ["transformer_blocks.1", "transformer_blocks.3"]
KEPT = [b for b in BLOCKS if b not in REMOVED]


class PrunedStackFeatureMatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ldsd-stack-")
        cls.pipe = os.path.join(cls.tmp, "digits-dit")
        shutil.copytree(DIT, cls.pipe)
        cls.teacher = os.path.join(cls.pipe, "transformer", "model.onnx")
        model = onnx.load(cls.teacher)
        for scope in REMOVED:
            model = bypass_scope(model, scope)
        cls.student = os.path.join(cls.pipe, "transformer", "model.pruned.onnx")
        write_model_atomic(model, cls.student)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_remaining_blocks_pair_with_the_teacher_blocks_they_came_from(self):
        t, s = OnnxModule(self.teacher, trainable=False), OnnxModule(self.student, trainable=False)
        t_map, s_map = t.stage_outputs(), s.stage_outputs()
        self.assertEqual(list(t_map), BLOCKS)
        self.assertEqual(list(s_map), KEPT)
        # the same value: the student's block 2 is the teacher's block 2, whose output the pruner kept by name
        for k in KEPT:
            self.assertEqual(s_map[k], t_map[k], k)
        # position would have paired the student's second block (2) with the teacher's second (1)
        self.assertNotEqual(s_map[list(s_map)[1]], t_map[list(t_map)[1]])

        # run both: before the first removed block the features are identical; block 2 of the student then
        # reads block 0's output (block 1 is gone) and is its teacher counterpart's shape
        torch.manual_seed(0)
        feeds = {}
        for name, info in t.input_info.items():
            dims = [d if isinstance(d, int) and d > 0 else 1 for d in (info["dims"] or [])]
            feeds[name] = torch.randint(0, 10, dims) if info["elem_type"] == onnx.TensorProto.INT64 else torch.randn(dims)
        with torch.no_grad():
            t_out = t.run(feeds, [t_map[k] for k in BLOCKS])
            s_out = s.run(feeds, [s_map[k] for k in KEPT])
        torch.testing.assert_close(s_out[s_map["transformer_blocks.0"]], t_out[t_map["transformer_blocks.0"]])
        for k in KEPT:
            self.assertEqual(s_out[s_map[k]].shape, t_out[t_map[k]].shape, k)

    def test_the_trainer_reports_the_matched_and_the_removed_blocks(self):
        rc, ev, err = distill("--student", self.student, "--teacher", self.teacher, "--run-dir", os.path.join(self.tmp, "run"),
                              "--no-export", "--steps", "1", "--batch-size", "2", "--data-samples", "4", "--data-steps", "2",
                              "--eval-samples", "4", "--eval-steps", "2", "--eval-every", "0", "--log-every", "1",
                              "--threads", "1")
        self.assertEqual(rc, 0, err[-3000:])
        setup = [e for e in ev if e["event"] == "setup"][0]
        self.assertEqual(setup["features"]["matched"], KEPT)
        self.assertEqual(sorted(setup["features"]["skipped"]), REMOVED)
        for k in REMOVED:
            self.assertIn("no nodes in this scope", setup["features"]["skipped"][k])
        steps = [e for e in ev if e["event"] == "step"]
        self.assertTrue(steps and steps[0]["loss_feat"] > 0, "feature KD ran on the matched blocks")


if __name__ == "__main__":
    unittest.main()
