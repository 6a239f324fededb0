"""The distillation objective and LR schedule (losses.py): what the trainer's defaults rely on."""
import math
import unittest

import torch

from ld_surgeon_distill.losses import distillation_loss, feature_distance, learning_rate


class FeatureNormalisation(unittest.TestCase):
    def test_relative_error_ignores_the_feature_scale(self):
        g = torch.Generator().manual_seed(0)
        ft = torch.randn(4, 8, 6, 6, generator=g)
        fs = ft + 0.1 * torch.randn(4, 8, 6, 6, generator=g)
        small = feature_distance(fs, ft, "teacher")
        loud = feature_distance(100 * fs, 100 * ft, "teacher")
        self.assertAlmostEqual(float(small), float(loud), places=4)
        self.assertAlmostEqual(float(feature_distance(100 * fs, 100 * ft, "none")),
                               1e4 * float(feature_distance(fs, ft, "none")), delta=1e-2)
        self.assertAlmostEqual(float(small), 0.01, delta=0.003)  # relative MSE of 10% noise

    def test_each_stage_weighs_alike_when_normalised(self):
        g = torch.Generator().manual_seed(1)
        quiet_t, loud_t = torch.randn(2, 4, 4, 4, generator=g), 50 * torch.randn(2, 4, 4, 4, generator=g)
        quiet_s, loud_s = 0.8 * quiet_t, 0.8 * loud_t  # the same 20% error at both stages
        out = torch.randn(2, 4, 4, 4, generator=g)
        _, plain = distillation_loss(out, out, out, [quiet_s, loud_s], [quiet_t, loud_t], feat_norm="none")
        _, norm = distillation_loss(out, out, out, [quiet_s, loud_s], [quiet_t, loud_t], feat_norm="teacher")
        quiet_only = feature_distance(quiet_s, quiet_t, "none")
        self.assertGreater(float(plain["feat"]), 1000 * float(quiet_only))  # the loud stage drowns the quiet one
        self.assertAlmostEqual(float(norm["feat"]), 2 * 0.04, delta=1e-5)

    def test_gradients_reach_the_student_only(self):
        t = torch.randn(2, 3, 4, 4)
        s = torch.zeros(2, 3, 4, 4, requires_grad=True)
        ft = torch.randn(2, 3, 4, 4, requires_grad=True)
        fs = torch.zeros(2, 3, 4, 4, requires_grad=True)
        total, parts = distillation_loss(s, t, torch.randn(2, 3, 4, 4), [fs], [ft], 0.0, 1.0, 1.0, "teacher")
        total.backward()
        self.assertIsNone(ft.grad)
        self.assertGreater(float(fs.grad.abs().sum()), 0)
        self.assertEqual(float(parts["task"] * 0 + total), float(parts["out"] + parts["feat"]))

    def test_a_batch_split_in_halves_has_the_loss_of_the_whole(self):
        # what DDP ranks and gradient accumulation rely on: the mean of the halves' losses is the batch's loss,
        # even when the samples' features differ in scale
        torch.manual_seed(0)
        ft = torch.randn(4, 8, 5, 5) * torch.tensor([1.0, 10.0, 0.1, 3.0]).view(4, 1, 1, 1)
        fs = ft + torch.randn_like(ft) * 0.3
        whole = feature_distance(fs, ft, "teacher")
        halves = (feature_distance(fs[:2], ft[:2], "teacher") + feature_distance(fs[2:], ft[2:], "teacher")) / 2
        self.assertAlmostEqual(whole.item(), halves.item(), places=6)

    def test_unknown_normalisation_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "expected one of none, teacher"):
            feature_distance(torch.ones(1), torch.ones(1), "layer")


class Schedule(unittest.TestCase):
    def test_warmup_then_cosine_to_zero(self):
        lr = [learning_rate(s, 1e-3, 100, 10, "cosine") for s in range(1, 101)]
        self.assertAlmostEqual(lr[0], 1e-4)
        self.assertAlmostEqual(lr[9], 1e-3)
        self.assertTrue(all(a >= b for a, b in zip(lr[9:], lr[10:])))
        self.assertAlmostEqual(learning_rate(55, 1e-3, 100, 10, "cosine"), 0.5e-3)
        self.assertAlmostEqual(lr[-1], 0.0)

    def test_constant_and_no_warmup(self):
        self.assertEqual(learning_rate(1, 5e-5, 10, 0, "constant"), 5e-5)
        self.assertEqual(learning_rate(10, 5e-5, 10, 0, "constant"), 5e-5)
        self.assertAlmostEqual(learning_rate(1, 2e-3, 5, 0, "cosine"), 1e-3 * (1 + math.cos(math.pi / 5)))

    def test_unknown_schedule_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "constant or cosine"):
            learning_rate(5, 1e-3, 10, 0, "linear")


if __name__ == "__main__":
    unittest.main()
