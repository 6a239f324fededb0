"""SDXL in the trainer: conditions as SdxlCond rows through the data, dropout and sampling code, the U-Net's
text_embeds / time_ids feeds, time_ids from the pipeline, and the errors a user meets. (The values agree with the
TypeScript sampler's: test/digits-xl-conditions.test.ts; a CLI distillation of examples/digits-xl:
test/digits-xl.test.ts.)"""
import json
import os
import shutil
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ld_surgeon_distill.conditions import Conditioner, SdxlCond, cat_conds, sdxl_time_ids  # noqa: E402
from ld_surgeon_distill.data import LatentData, training_batch  # noqa: E402
from ld_surgeon_distill.onnx_import import OnnxModule  # noqa: E402
from ld_surgeon_distill.pipeline import Pipeline, PipelineError  # noqa: E402
from ld_surgeon_distill.sampler import NoiseSchedule, sample  # noqa: E402
from ld_surgeon_distill.train import DistillError, UNetIO  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SDXL_UNET = os.path.join(REPO, "test", "fixtures", "sdxl-unet", "model.onnx")
EXAMPLE = os.path.join(REPO, "examples", "digits-xl")
SCHEDULER = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
             "prediction_type": "epsilon", "set_alpha_to_one": False, "steps_offset": 1}


def rows(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return SdxlCond(torch.randn(n, 3, 5, generator=g), torch.randn(n, 2, generator=g))


class SdxlCondRows(unittest.TestCase):
    def test_row_operations_keep_hidden_and_pooled_together(self):
        c = rows(6)
        idx = torch.tensor([4, 1])
        picked = c[idx]
        self.assertTrue(torch.equal(picked.hidden, c.hidden[idx]) and torch.equal(picked.pooled, c.pooled[idx]))
        both = cat_conds([c[:2], c[2:]])
        self.assertTrue(torch.equal(both.hidden, c.hidden) and torch.equal(both.pooled, c.pooled))
        u = SdxlCond(torch.zeros(1, 3, 5), torch.zeros(1, 2)).expand(4)
        self.assertEqual((list(u.hidden.shape), list(u.pooled.shape)), ([4, 3, 5], [4, 2]))
        d = c.clone()
        d[torch.tensor([True, False, True, False, False, False])] = SdxlCond(torch.zeros(1, 3, 5), torch.zeros(1, 2))
        self.assertEqual(float(d.hidden[0].abs().sum() + d.pooled[2].abs().sum()), 0.0)
        self.assertTrue(torch.equal(d.hidden[1], c.hidden[1]) and torch.equal(d.pooled[1], c.pooled[1]))
        self.assertEqual(len(c), 6)
        with self.assertRaises(ValueError):
            SdxlCond(torch.zeros(2, 3, 5), torch.zeros(3, 2))

    def test_training_batch_drops_whole_sdxl_conditions(self):
        data = LatentData(torch.randn(32, 4, 2, 2), rows(32), None, "test")
        uncond = SdxlCond(torch.zeros(1, 3, 5), torch.zeros(1, 2))
        _, cond, _, _, idx = training_batch(data, NoiseSchedule(SCHEDULER), 0, 0, 1, 0, 1, 32, 0, uncond, 0.5)
        dropped_h = cond.hidden.abs().sum(dim=(1, 2)) == 0
        dropped_p = cond.pooled.abs().sum(dim=1) == 0
        self.assertTrue(torch.equal(dropped_h, dropped_p), "hidden states and text_embeds are dropped together")
        self.assertTrue(0 < int(dropped_h.sum()) < 32)
        kept = ~dropped_h
        self.assertTrue(torch.equal(cond.pooled[kept], data.cond.pooled[idx][kept]))

    def test_guided_sampling_batches_uncond_then_cond(self):
        seen = []

        def unet(x, t, c):
            seen.append(c)
            return torch.zeros_like(x)
        c = rows(2)
        u = SdxlCond(torch.zeros(1, 3, 5), torch.zeros(1, 2)).expand(2)
        sample(unet, NoiseSchedule(SCHEDULER), torch.randn(2, 4, 2, 2), 2, c, u, 3.0)
        self.assertTrue(torch.equal(seen[0].pooled, torch.cat([u.pooled, c.pooled])))


class SdxlUNetFeeds(unittest.TestCase):
    def test_feeds_text_embeds_and_time_ids(self):
        m = OnnxModule(SDXL_UNET, trainable=False)
        io = UNetIO(m, SDXL_UNET)
        self.assertTrue(io.sdxl)
        self.assertEqual((io.cond, io.text_embeds, io.time_ids_input), ("encoder_hidden_states", "text_embeds", "time_ids"))
        io.time_ids = torch.tensor([32.0, 32, 0, 0, 32, 32])
        hidden_dim = m.input_info["encoder_hidden_states"]["dims"][2]
        pooled_dim = m.input_info["text_embeds"]["dims"][1]
        c = SdxlCond(torch.randn(3, 4, hidden_dim), torch.randn(3, pooled_dim))
        f = io.feeds(torch.randn(3, 4, 8, 8), torch.tensor([10, 500, 900]), c)
        self.assertEqual(list(f["time_ids"].shape), [3, 6])
        self.assertTrue(torch.equal(f["text_embeds"], c.pooled))
        out = m.run(f)[m.output_names[0]]
        self.assertEqual(list(out.shape), [3, 4, 8, 8])
        # the pooled embedding is an input the U-Net uses: another one changes the output
        f2 = dict(f, text_embeds=torch.randn(3, pooled_dim))
        self.assertGreater(float((m.run(f2)[m.output_names[0]] - out).abs().max()), 1e-6)
        with self.assertRaisesRegex(DistillError, "pooled text embeddings"):
            io.feeds(torch.randn(3, 4, 8, 8), torch.tensor([1, 2, 3]), c.hidden)


@unittest.skipUnless(os.path.isdir(EXAMPLE), "examples/digits-xl is not built")
class SdxlPipelineConditions(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.root = os.path.join(self.dir, "xl")
        shutil.copytree(EXAMPLE, self.root, ignore=shutil.ignore_patterns("unet", "metrics", "vae_encoder", "*.png"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def index(self, change):
        path = os.path.join(self.root, "model_index.json")
        with open(path) as f:
            index = json.load(f)
        change(index)
        with open(path, "w") as f:
            json.dump(index, f)

    def test_prompts_uncond_and_time_ids(self):
        p = Pipeline(self.root)
        c = Conditioner(p, torch.device("cpu"), sdxl=True)
        self.assertEqual(c.mode, "prompts")
        self.assertEqual(c.num_classes, 10)
        a = c.for_labels([7, 2])
        self.assertEqual(list(a.hidden.shape[1:]), [8, 64])
        self.assertFalse(torch.allclose(a.pooled[0], a.pooled[1]), "different digits, different text_embeds")
        u = c.uncond(3)
        self.assertEqual(len(u), 3)
        self.assertEqual(float(u.hidden.abs().sum() + u.pooled.abs().sum()), 0.0)  # force_zeros_for_empty_prompt
        self.assertEqual(sdxl_time_ids(p, [4, 8, 8]).tolist(), [32, 32, 0, 0, 32, 32])
        self.index(lambda i: [i["ld_surgeon"].pop(k) for k in ("original_size", "target_size", "crops_coords_top_left")])
        self.assertEqual(sdxl_time_ids(Pipeline(self.root), [4, 5, 6]).tolist(), [20, 24, 0, 0, 20, 24])

    def test_user_errors_name_the_file(self):
        self.index(lambda i: i["ld_surgeon"].__setitem__("original_size", [32]))
        with self.assertRaisesRegex(PipelineError, r"model_index\.json: ld_surgeon\.original_size must be \[height, width\]"):
            sdxl_time_ids(Pipeline(self.root), [4, 8, 8])
        hidden = os.path.join(self.dir, "h.npy")
        np.save(hidden, np.zeros((2, 8, 64), np.float32))
        with self.assertRaisesRegex(PipelineError, "--text-embeds"):
            Conditioner(Pipeline(self.root), torch.device("cpu"), hidden, sdxl=True)
        pooled = os.path.join(self.dir, "p.npy")
        np.save(pooled, np.zeros((3, 32), np.float32))
        with self.assertRaisesRegex(PipelineError, r"p\.npy: expected pooled embeddings \[2, P\]"):
            Conditioner(Pipeline(self.root), torch.device("cpu"), hidden, sdxl=True, text_embeds_path=pooled)
        np.save(pooled, np.ones((2, 32), np.float32))
        c = Conditioner(Pipeline(self.root), torch.device("cpu"), hidden, sdxl=True, text_embeds_path=pooled)
        got, _ = c.sample([torch.Generator().manual_seed(i) for i in range(3)])
        self.assertEqual((list(got.hidden.shape), float(got.pooled.sum())), ([3, 8, 64], 96.0))
        shutil.rmtree(os.path.join(self.root, "text_encoder_2"))
        with self.assertRaisesRegex(PipelineError, "text_encoder_2/model.onnx"):
            Conditioner(Pipeline(self.root), torch.device("cpu"), sdxl=True)


if __name__ == "__main__":
    unittest.main()
