"""The importer on real diffusion graphs: exported torch U-Nets (the examples' own code), re-export, errors."""
import json
import os
import shutil
import sys
import tempfile
import unittest

import numpy as np
import onnx
import torch
from onnx import helper, TensorProto

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

from ld_surgeon_distill import ops  # noqa: E402
from ld_surgeon_distill.export import export_onnx  # noqa: E402
from ld_surgeon_distill.onnx_import import OnnxImportError, OnnxModule, UnsupportedOperatorError, node_scope  # noqa: E402
from ld_surgeon_distill.sampler import NoiseSchedule, sample  # noqa: E402

EXAMPLES = os.path.join(fixtures.REPO, "examples")
GOLDEN = os.path.join(fixtures.REPO, "test", "fixtures", "golden")


class TinyUNetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ldsd-import-")
        cls.root = os.path.join(cls.tmp, "pipe")
        cls.unet = fixtures.build_pipeline(cls.root, conditional=True)
        cls.path = os.path.join(cls.root, "unet", "model.onnx")
        cls.module = OnnxModule(cls.path)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def inputs(self, batch, seed=1):
        g = torch.Generator().manual_seed(seed)
        return (torch.randn(batch, 4, 8, 8, generator=g), torch.tensor([999.0, 500.0, 3.0, 41.0][:batch]),
                torch.randn(batch, 6, 16, generator=g))

    def test_matches_pytorch_reference_with_a_different_batch_size(self):
        x, t, c = self.inputs(3)  # exported with batch 2: the shape arithmetic must follow the input
        with torch.no_grad():
            want = self.unet(x, t, c)
            got = self.module(x, t, c)
        self.assertEqual(tuple(got.shape), (3, 4, 8, 8))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)

    def test_cached_shape_arithmetic_follows_the_input_shapes(self):
        # Shape-only nodes are replayed from a per-input-shape cache after the first call: alternate batch sizes
        m = OnnxModule(self.path)
        for batch in (2, 3, 2, 1, 3):
            x, t, c = self.inputs(batch, seed=batch)
            with torch.no_grad():
                np.testing.assert_allclose(m(x, t, c).numpy(), self.unet(x, t, c).numpy(), rtol=1e-4, atol=1e-5)
        self.assertEqual(len(m._shape_cache), 3)
        self.assertLess(len(m._data_steps), len(m._steps) * 0.8)

    def test_weights_are_the_initializers_as_trainable_parameters(self):
        sd = self.unet.state_dict()
        mine = dict(self.module.named_parameters())
        self.assertEqual(sum(p.numel() for p in mine.values()), sum(v.numel() for v in sd.values()))
        for name in ("conv_in.weight", "down_blocks.0.resnets.0.conv1.weight", "mid_block.resnets.1.conv2.bias"):
            self.assertTrue(torch.equal(mine[name].detach(), sd[name]), name)
            self.assertTrue(mine[name].requires_grad)
        # the exporter merges equal initial weights through Identity nodes; the importer unties them
        x, t, c = self.inputs(2)
        self.module(x, t, c).square().mean().backward()
        self.assertTrue(all(p.grad is not None for p in self.module.parameters()))
        self.module.zero_grad(set_to_none=True)

    def test_stage_outputs_are_the_modules_outputs(self):
        stages = self.module.stage_outputs()
        self.assertEqual(list(stages), ["down_blocks.0", "down_blocks.1", "mid_block", "up_blocks.0", "up_blocks.1"])
        seen = {}
        hooks = []
        for name in stages:
            mod = self.unet.get_submodule(name)
            hooks.append(mod.register_forward_hook(
                lambda m, i, o, name=name: seen.__setitem__(name, o[0] if isinstance(o, tuple) else o)))
        x, t, c = self.inputs(2)
        with torch.no_grad():
            self.unet(x, t, c)
            got = self.module.run({"sample": x, "timestep": t, "encoder_hidden_states": c}, list(stages.values()))
        for h in hooks:
            h.remove()
        for name, value in stages.items():
            np.testing.assert_allclose(got[value].numpy(), seen[name].numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
        nested = self.module.scope_outputs()
        self.assertIn("down_blocks.0.resnets.0", nested)
        self.assertIn("mid_block.attentions.0", nested)

    def test_reexport_keeps_outputs_scopes_and_weight_names(self):
        x, t, c = self.inputs(2)
        out = os.path.join(self.tmp, "reexport.onnx")
        export_onnx(self.module, {"sample": x, "timestep": t, "encoder_hidden_states": c}, out)
        onnx.checker.check_model(out)
        again = OnnxModule(out)
        x3, t3, c3 = self.inputs(3, seed=7)
        with torch.no_grad():
            a, b = self.module(x3, t3, c3), again(x3, t3, c3)
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
        orig = onnx.load(self.path)
        scopes = lambda m: {node_scope(n.name) for n in m.graph.node if node_scope(n.name)}
        self.assertEqual(scopes(onnx.load(out)), scopes(orig))
        self.assertEqual(list(again.stage_outputs()), list(self.module.stage_outputs()))
        names = {i.name for i in onnx.load(out).graph.initializer}
        self.assertIn("down_blocks.0.resnets.0.conv1.weight", names)
        dims = onnx.load(out).graph.input[0].type.tensor_type.shape.dim
        self.assertEqual(dims[0].dim_param, "batch")


class ErrorsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ldsd-err-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _save(self, nodes, name="m.onnx", inits=()):
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
        path = os.path.join(self.tmp, name)
        onnx.save(m, path)
        return path

    def test_unsupported_operators_are_named_with_their_nodes_at_import(self):
        path = self._save([
            helper.make_node("Relu", ["x"], ["a"], name="/block/Relu"),
            helper.make_node("Hardmax", ["a"], ["b"], name="/block/odd/Hardmax"),
            helper.make_node("FusedGemm", ["b"], ["c"], name="/fused", domain="com.microsoft"),
            helper.make_node("Resize", ["c", "", "s"], ["y"], name="/up/Resize", mode="cubic"),
            helper.make_node("Constant", [], ["s"], name="/up/Constant",
                             value=helper.make_tensor("v", TensorProto.FLOAT, [2], [1.0, 2.0])),
        ])
        with self.assertRaises(UnsupportedOperatorError) as cm:
            OnnxModule(path)
        msg = str(cm.exception)
        self.assertIn(path, msg)
        for part in ("Hardmax", "/block/odd/Hardmax", "com.microsoft.FusedGemm", "/fused"):
            self.assertIn(part, msg)

    def test_variant_errors_name_the_variant(self):
        path = self._save([
            helper.make_node("Constant", [], ["s"], name="/up/Constant",
                             value=helper.make_tensor("v", TensorProto.FLOAT, [2], [1.0, 2.0])),
            helper.make_node("Resize", ["x", "", "s"], ["y"], name="/up/Resize", mode="cubic")])
        with self.assertRaisesRegex(UnsupportedOperatorError, r"Resize with mode='cubic'.*/up/Resize"):
            OnnxModule(path)

    def test_external_data_outside_the_model_folder_is_refused(self):
        t = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], np.ones(6, np.float32).tobytes(), raw=True)
        path = self._save([helper.make_node("Add", ["x", "w"], ["y"], name="/Add")], inits=[t])
        m = onnx.load(path)
        w = m.graph.initializer[0]
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "../secret.bin"), ("offset", "0"), ("length", "24")):
            e = w.external_data.add()
            e.key, e.value = k, v
        with open(os.path.join(os.path.dirname(self.tmp), "secret.bin"), "wb") as f:
            f.write(b"\0" * 24)
        onnx.save(m, path)
        try:
            with self.assertRaisesRegex(OnnxImportError, "outside the model's folder"):
                OnnxModule(path)
        finally:
            os.unlink(os.path.join(os.path.dirname(self.tmp), "secret.bin"))

    def test_external_data_inside_the_folder_loads(self):
        t = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], np.arange(6, dtype=np.float32).tobytes(), raw=True)
        path = self._save([helper.make_node("Add", ["x", "w"], ["y"], name="/Add")], inits=[t])
        m = onnx.load(path)
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location="m.data",
                        size_threshold=0)
        y = OnnxModule(path)(torch.zeros(2, 3))
        self.assertEqual(y.flatten().tolist(), list(range(6)))

    def test_missing_input_is_a_clear_error(self):
        path = self._save([helper.make_node("Relu", ["x"], ["y"], name="/Relu")])
        with self.assertRaisesRegex(OnnxImportError, "missing input"):
            OnnxModule(path).run({})


class ResizePathsTest(unittest.TestCase):
    """F.interpolate fast paths (which re-export as Resize) must equal the generic ONNX formula."""

    def test_fast_and_generic_paths_agree(self):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(2, 3, 4, 6, generator=g)
        cases = [("nearest", "asymmetric", "floor", [1, 1, 2, 2]), ("nearest", "asymmetric", "floor", [1, 1, 3, 2]),
                 ("linear", "half_pixel", "round_prefer_floor", [1, 1, 2, 2]),
                 ("linear", "pytorch_half_pixel", "round_prefer_floor", [1, 1, 1.5, 2]),
                 ("linear", "align_corners", "round_prefer_floor", [1, 1, 2, 3])]
        for mode, coord, nearest, scales in cases:
            sizes = [int(np.floor(n * s)) for n, s in zip(x.shape, scales)]
            fast = ops._fast_resize(x, [0, 1, 2, 3], scales, sizes, mode, coord, nearest, [(0.0, 1.0)] * 4)
            self.assertIsNotNone(fast, (mode, coord, scales))
            y = x
            for a in (2, 3):
                y = ops._resize_axis(y, a, sizes[a], scales[a], mode, coord, nearest, (0.0, 1.0), 0.0)
            np.testing.assert_allclose(fast.numpy(), y.numpy(), rtol=1e-5, atol=1e-6, err_msg=str((mode, coord)))


@unittest.skipUnless(os.path.isfile(os.path.join(EXAMPLES, "digits-cond", "model_index.json")),
                     "examples/digits-cond not exported yet")
class ExamplePipelineTest(unittest.TestCase):
    """Every model of the committed example pipelines imports and runs; the U-Net matches the golden outputs."""

    def test_all_models_import_and_run(self):
        for name in ("digits-cond", "digits-uncond", "audio-digits"):
            root = os.path.join(EXAMPLES, name)
            if not os.path.isdir(root):
                continue
            for rel in ("unet/model.onnx", "vae_decoder/model.onnx", "vae_encoder/model.onnx",
                        "text_encoder/model.onnx", "metrics/classifier.onnx"):
                path = os.path.join(root, rel)
                if not os.path.isfile(path):
                    continue
                m = OnnxModule(path, trainable=False)
                feeds = {}
                for inp, info in m.input_info.items():
                    dims = [3 if not isinstance(d, int) or d <= 0 else d for d in info["dims"]]
                    if info["elem_type"] == TensorProto.INT64:
                        feeds[inp] = torch.ones(dims, dtype=torch.int64)
                    else:
                        feeds[inp] = torch.randn(dims)
                with torch.no_grad():
                    out = m.run(feeds)
                for v in out.values():
                    self.assertEqual(v.shape[0], 3, f"{name}/{rel}")
                    self.assertTrue(torch.isfinite(v).all(), f"{name}/{rel}")

    def test_unet_matches_golden_first_step(self):
        checked = 0
        for name in ("digits-cond", "digits-uncond", "audio-digits"):
            gpath = os.path.join(GOLDEN, f"{name}.json")
            upath = os.path.join(EXAMPLES, name, "unet", "model.onnx")
            if not (os.path.isfile(gpath) and os.path.isfile(upath)):
                continue
            with open(gpath) as f:
                gold = json.load(f)
            arr = lambda a: torch.tensor(a["data"], dtype=torch.float32).reshape(a["shape"])
            x = arr(gold["x_T"])
            fs = gold["first_step"]
            t = float(fs["timestep"])
            m = OnnxModule(upath, trainable=False)
            with torch.no_grad():
                if "conditioning" in gold:
                    c = gold["conditioning"]
                    cond = torch.cat([arr(c["encoder_hidden_states_uncond"]), arr(c["encoder_hidden_states_cond"])])
                    got = m(torch.cat([x, x]), torch.full((2 * x.shape[0],), t), cond)
                else:
                    got = m(x, torch.full((x.shape[0],), t))
            np.testing.assert_allclose(got.numpy(), arr(fs["unet_out_sample"]).numpy(), rtol=1e-3, atol=1e-4,
                                       err_msg=name)
            # the whole sampling loops (DDIM, and DDPM replaying the stored per-step noise)
            sched = NoiseSchedule(gold["scheduler_config"])
            fn = lambda xx, tt, cc: m.run({k: v for k, v in (("sample", xx), ("timestep", tt),
                                                              ("encoder_hidden_states", cc)) if v is not None})["out_sample"]
            c = gold.get("conditioning")
            cond = arr(c["encoder_hidden_states_cond"]) if c else None
            uncond = arr(c["encoder_hidden_states_uncond"]) if c else None
            for run in gold["runs"]:
                kind = "ddim" if run["scheduler"] == "DDIMScheduler" else "ddpm"
                self.assertEqual(sched.timesteps(run["num_inference_steps"]), run["timesteps"])
                noises = list(arr(run["step_noise"])) if kind == "ddpm" else None
                final = sample(fn, sched, x, run["num_inference_steps"], cond, uncond,
                               c["guidance_scale"] if c else 1.0, kind=kind, step_noises=noises)
                tol = gold.get("suggested_tolerance", {"atol": 2e-3, "rtol": 1e-3})
                np.testing.assert_allclose(final.numpy(), arr(run["final_latents"]).numpy(), rtol=tol["rtol"],
                                           atol=tol["atol"], err_msg=f"{name} {kind}")
            checked += 1
        if not checked:
            self.skipTest("no golden fixtures yet")


if __name__ == "__main__":
    unittest.main()
