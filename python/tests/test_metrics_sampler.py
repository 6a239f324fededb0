"""Sampler formulas, the metric pipeline (against the example's own Python reference), PNG reading, batches."""
import json
import os
import shutil
import sys
import tempfile
import unittest
import struct
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

from ld_surgeon_distill.conditions import Conditioner  # noqa: E402
from ld_surgeon_distill.data import LatentData, training_batch  # noqa: E402
from ld_surgeon_distill.metrics import Evaluator, frechet_distance, latent_score  # noqa: E402
from ld_surgeon_distill.onnx_import import OnnxModule  # noqa: E402
from ld_surgeon_distill.pipeline import Pipeline  # noqa: E402
from ld_surgeon_distill.png import PngError, read_png, write_png  # noqa: E402
from ld_surgeon_distill.sampler import NoiseSchedule  # noqa: E402

EXAMPLE = os.path.join(fixtures.REPO, "examples", "digits-cond")


class ScheduleTest(unittest.TestCase):
    def test_timesteps_follow_diffusers(self):
        s = NoiseSchedule(fixtures.SCHEDULER)
        self.assertEqual(s.timesteps(10), [901, 801, 701, 601, 501, 401, 301, 201, 101, 1])
        self.assertEqual(NoiseSchedule({**fixtures.SCHEDULER, "timestep_spacing": "trailing"}).timesteps(4),
                         [999, 749, 499, 249])
        self.assertEqual(NoiseSchedule({**fixtures.SCHEDULER, "timestep_spacing": "linspace"}).timesteps(3),
                         [999, 500, 0])
        # scaled_linear: sqrt-linspace squared, as SD 1.x
        self.assertAlmostEqual(float(s.betas[0]), 0.00085, places=7)
        self.assertAlmostEqual(float(s.betas[-1]), 0.012, places=6)

    def test_targets_invert_to_x0_for_every_prediction_type(self):
        g = torch.Generator().manual_seed(0)
        x0, noise = torch.randn(3, 4, 2, 2, generator=g), torch.randn(3, 4, 2, 2, generator=g)
        t = torch.tensor([10, 500, 990])
        for kind in ("epsilon", "v_prediction", "sample"):
            s = NoiseSchedule({**fixtures.SCHEDULER, "prediction_type": kind})
            xt = s.add_noise(x0, noise, t)
            target = s.target(x0, noise, t)
            for i in range(3):
                rx0, reps = s.split(target[i:i + 1], xt[i:i + 1], int(t[i]))
                torch.testing.assert_close(rx0, x0[i:i + 1], rtol=1e-3, atol=1e-3)
                torch.testing.assert_close(reps, noise[i:i + 1], rtol=1e-3, atol=1e-3)

    def test_batches_are_a_function_of_the_step(self):
        s = NoiseSchedule(fixtures.SCHEDULER)
        data = LatentData(torch.randn(10, 4, 2, 2), None, None, "x")
        a = training_batch(data, s, 7, 0, 1, 0, 1, 4, 3, None, 0.0)
        b = training_batch(data, s, 7, 0, 1, 0, 1, 4, 3, None, 0.0)
        c = training_batch(data, s, 8, 0, 1, 0, 1, 4, 3, None, 0.0)
        for x, y in zip(a, b):
            if x is not None:
                self.assertTrue(torch.equal(torch.as_tensor(x), torch.as_tensor(y)))
        self.assertFalse(torch.equal(a[3], c[3]))
        # two ranks with batch 2 see exactly one rank's batch of 4
        r0 = training_batch(data, s, 7, 0, 1, 0, 2, 2, 3, None, 0.0)
        r1 = training_batch(data, s, 7, 0, 1, 1, 2, 2, 3, None, 0.0)
        self.assertTrue(torch.equal(torch.cat([r0[3], r1[3]]), a[3]))
        self.assertEqual(r0[4] + r1[4], a[4])
        # every sample is seen once per epoch
        seen = sum((training_batch(data, s, k, 0, 1, 0, 1, 5, 3, None, 0.0)[4] for k in range(2)), [])
        self.assertEqual(sorted(seen), list(range(10)))


class FrechetTest(unittest.TestCase):
    def test_matches_the_sqrtm_formula(self):
        from scipy import linalg
        rng = np.random.default_rng(0)
        a, b = rng.normal(size=(200, 6)), rng.normal(size=(150, 6)) @ rng.normal(size=(6, 6))
        m1, c1, m2, c2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
        ref = ((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real)
        self.assertAlmostEqual(frechet_distance(m1, c1, m2, c2), ref, places=6)
        self.assertAlmostEqual(frechet_distance(m1, c1, m1, c1), 0.0, places=6)

    def test_latent_score(self):
        r = torch.zeros(4, 3)
        self.assertEqual(latent_score(r, r), 0.0)
        self.assertAlmostEqual(latent_score(r, r + 1), 3 ** 0.5, places=6)


@unittest.skipUnless(os.path.isfile(os.path.join(EXAMPLE, "metrics", "metric.json")), "examples/digits-cond missing")
class ExampleMetricTest(unittest.TestCase):
    def test_fid_and_accuracy_match_the_pipelines_python_reference(self):
        """metric.json records the FID/accuracy that the training code measured with torch (DDIM 25 steps,
        guidance 3, 'a digit <word>', x_T from seed 1234, labels k % 10); the ONNX-imported pipeline must agree."""
        with open(os.path.join(EXAMPLE, "metrics", "metric.json")) as f:
            ref = json.load(f)["python_reference_results"]
        gen = ref["generated"]
        n = gen["n"]
        pipe = Pipeline(EXAMPLE)
        sched = NoiseSchedule(pipe.scheduler_config())
        x_T = torch.randn((n, 4, 8, 8), generator=torch.Generator().manual_seed(1234))
        ev = Evaluator(pipe, sched, Conditioner(pipe, torch.device("cpu")), [4, 8, 8], n, 25,
                       pipe.guidance_scale(), 0, torch.device("cpu"), x_T=x_T)
        unet = OnnxModule(pipe.unet, trainable=False)
        m = ev.evaluate(lambda x, t, c: unet.run({"sample": x, "timestep": t, "encoder_hidden_states": c})["out_sample"])
        print(f"\nexample FID: ours {m['FID']:.4f}, reference {gen['frechet']:.4f}; accuracy ours "
              f"{m['class_accuracy']}, reference {gen['class_accuracy']}")
        self.assertAlmostEqual(m["FID"], gen["frechet"], delta=0.01 * gen["frechet"])
        self.assertAlmostEqual(m["class_accuracy"], gen["class_accuracy"], delta=0.021)


def _png_bytes(rows, color, depth):
    """A PNG whose rows cycle through all five filter types (none, sub, up, average, paeth)."""
    h = len(rows)
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[color] * depth // 8
    width = len(rows[0]) // bpp
    raw, prev = b"", bytes(len(rows[0]))
    for y, row in enumerate(rows):
        line = bytes(row)
        ftype = y % 5
        out = bytearray()
        for x in range(len(line)):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            p = [0, a, b, (a + b) >> 1, _paeth(a, b, c)][ftype]
            out.append((line[x] - p) & 0xFF)
        raw += bytes([ftype]) + bytes(out)
        prev = line

    def chunk(k, body):
        return struct.pack(">I", len(body)) + k + body + struct.pack(">I", zlib.crc32(k + body) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, h, depth, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


class PngTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ldsd-png-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_all_filters_and_formats(self):
        rng = np.random.default_rng(1)
        for color, ch, depth in ((0, 1, 8), (2, 3, 8), (6, 4, 8), (4, 2, 8), (0, 1, 16)):
            img = rng.integers(0, 256, size=(7, 5 * ch * depth // 8), dtype=np.uint8)
            path = os.path.join(self.tmp, f"c{color}d{depth}.png")
            with open(path, "wb") as f:
                f.write(_png_bytes(img.tolist(), color, depth))
            got = read_png(path)
            want = img.reshape(7, 5, ch * depth // 8)
            if depth == 16:
                want = want.view(">u2").astype(np.uint16)
            np.testing.assert_array_equal(got, want.reshape(7, 5, ch))
        img = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
        write_png(os.path.join(self.tmp, "w.png"), img)
        np.testing.assert_array_equal(read_png(os.path.join(self.tmp, "w.png")), img)

    def test_bad_files_are_named(self):
        path = os.path.join(self.tmp, "x.png")
        with open(path, "wb") as f:
            f.write(b"not a png")
        with self.assertRaisesRegex(PngError, "x.png: not a PNG"):
            read_png(path)


if __name__ == "__main__":
    unittest.main()
