"""Attention chains run as one fused step (attention.py): which chains are fused, that the results and gradients
are the node-by-node ones, that capturing an intermediate still works, and that a re-export is unchanged."""
import os
import shutil
import sys
import tempfile
import unittest

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

from ld_surgeon_distill.export import export_onnx  # noqa: E402
from ld_surgeon_distill.onnx_import import OnnxModule  # noqa: E402

UNET = os.path.join(fixtures.REPO, "examples", "digits-cond", "unet", "model.onnx")


def attention_graph(scale_op="Mul", extra_output=None, softmax_axis=-1):
    """Q [2,3,5,4], K [2,3,6,4], V [2,3,6,4] -> softmax(Q Kᵀ (*|/) c) V, as torch.onnx writes it."""
    c = 0.5 if scale_op == "Mul" else 2.0
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2], name="/attn/Transpose"),
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="/attn/MatMul"),
        helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", TensorProto.FLOAT, [], [c]), name="/attn/Constant"),
    ]
    if scale_op:
        nodes.append(helper.make_node(scale_op, ["s", "c"], ["ss"], name=f"/attn/{scale_op}"))
    nodes += [
        helper.make_node("Softmax", ["ss" if scale_op else "s"], ["p"], axis=softmax_axis, name="/attn/Softmax"),
        helper.make_node("MatMul", ["p", "v"], ["o"], name="/attn/MatMul_1"),
    ]
    f = lambda n, d: helper.make_tensor_value_info(n, TensorProto.FLOAT, d)  # noqa: E731
    outputs = [f("o", [2, 3, 5, 4])] + ([f(extra_output, None)] if extra_output else [])
    g = helper.make_graph(nodes, "attn", [f("q", [2, 3, 5, 4]), f("k", [2, 3, 6, 4]), f("v", [2, 3, 6, 4])], outputs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def reference(q, k, v, scale):
    s = q @ np.swapaxes(k, -1, -2) * scale
    e = np.exp(s - s.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


class FusionTest(unittest.TestCase):
    def feeds(self):
        g = torch.Generator().manual_seed(3)
        return {n: torch.randn(2, 3, d, 4, generator=g) for n, d in (("q", 5), ("k", 6), ("v", 6))}

    def test_mul_div_and_unscaled_chains_are_fused_and_agree_with_the_math(self):
        for op, scale in (("Mul", 0.5), ("Div", 0.5), (None, 1.0)):
            m = OnnxModule(attention_graph(op))
            self.assertEqual(m.fused_attentions, 1, op)
            feeds = self.feeds()
            want = reference(*(feeds[n].numpy() for n in "qkv"), scale)
            np.testing.assert_allclose(m(**feeds).detach().numpy(), want, rtol=1e-5, atol=1e-6, err_msg=str(op))

    def test_a_chain_whose_scores_are_read_elsewhere_or_not_on_the_last_axis_is_left_alone(self):
        self.assertEqual(OnnxModule(attention_graph("Mul", extra_output="p")).fused_attentions, 0)
        self.assertEqual(OnnxModule(attention_graph("Mul", softmax_axis=2)).fused_attentions, 0)
        self.assertEqual(OnnxModule(attention_graph("Mul"), fused_attention=False).fused_attentions, 0)


class UNetFusionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ldsd-attn-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def feeds(self, batch=2):
        g = torch.Generator().manual_seed(5)
        return {"sample": torch.randn(batch, 4, 8, 8, generator=g), "timestep": torch.tensor([900.0, 40.0][:batch]),
                "encoder_hidden_states": torch.randn(batch, 8, 64, generator=g)}

    def test_every_attention_of_the_shipped_unet_is_fused_with_the_same_outputs_and_gradients(self):
        softmaxes = sum(n.op_type == "Softmax" for n in onnx.load(UNET).graph.node)
        fused, plain = OnnxModule(UNET), OnnxModule(UNET, fused_attention=False)
        self.assertEqual(fused.fused_attentions, softmaxes)
        self.assertGreater(softmaxes, 10)
        a, b = fused(**self.feeds()), plain(**self.feeds())
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        a.square().mean().backward()
        b.square().mean().backward()
        for (name, pa), (_, pb) in zip(fused.named_parameters(), plain.named_parameters()):
            torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-3, atol=1e-6, msg=name)

    def test_capturing_a_fused_away_value_runs_the_nodes_and_then_fuses_again(self):
        m = OnnxModule(UNET)
        softmax_out = next(o for s in m.nodes() if s[1] == "Softmax" for o in s[3])
        with torch.no_grad():
            out = m.run(self.feeds(), capture=[softmax_out])
            plain = m.run(self.feeds())
        torch.testing.assert_close(out[softmax_out].sum(-1), torch.ones(out[softmax_out].shape[:-1]))
        self.assertIs(m._plan, m._fused_steps, "after the capture the fused plan is back")
        torch.testing.assert_close(out[m.output_names[0]], plain[m.output_names[0]], rtol=1e-4, atol=1e-5)

    def test_a_re_export_writes_the_original_nodes(self):
        out = os.path.join(self.tmp, "reexport.onnx")
        export_onnx(OnnxModule(UNET), self.feeds(1), out)
        ops = [n.op_type for n in onnx.load(out).graph.node]
        self.assertNotIn("Attention", ops)
        self.assertEqual(ops.count("Softmax"), OnnxModule(UNET).fused_attentions)
