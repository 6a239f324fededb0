"""Every ONNX backend test whose operators the importer claims must reproduce the expected outputs."""
import os
import sys
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backend_corpus as corpus  # noqa: E402

from ld_surgeon_distill import ops  # noqa: E402

# Operators a diffusion U-Net / VAE export uses (and the classifier metrics need): each must be exercised by at
# least one passing corpus test, so a claimed operator can never go untested.
MUST_BE_TESTED = [
    "Conv", "ConvTranspose", "Gemm", "MatMul", "InstanceNormalization", "GroupNormalization", "LayerNormalization",
    "Softmax", "Resize", "Concat", "Split", "Slice", "Reshape", "Transpose", "Gather", "Unsqueeze", "Squeeze",
    "Expand", "Tile", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Min",
    "Max", "Equal", "Less", "Greater", "Not", "And", "Or", "Where", "Sigmoid", "Tanh", "Relu", "LeakyRelu", "Gelu",
    "Erf", "Elu", "Softplus", "HardSigmoid", "Clip", "ReduceMean", "ReduceSum", "Constant", "ConstantOfShape",
    "Shape", "Range", "Cast", "Identity", "Dropout", "Einsum", "Flatten", "Cos", "Sin", "Pad", "CumSum",
    "AveragePool", "MaxPool", "GlobalAveragePool", "BatchNormalization",
]


class BackendCorpusTest(unittest.TestCase):
    def test_claimed_operators_match_onnx_backend_outputs(self):
        self.assertTrue(os.path.isdir(os.path.join(corpus.CORPUS, "node")),
                        f"ONNX backend corpus not found at {corpus.CORPUS} (set LD_SURGEON_ONNX_CORPUS)")
        res = corpus.run_all()
        reasons = Counter(r.split(" (")[0].split(":")[0] for r in res.skipped.values())
        print(f"\nONNX backend corpus: {len(res.passed)} passed, {len(res.skipped)} skipped, {len(res.failed)} failed "
              f"(claimed operators: {len(res.claimed_ops)})")
        for why, n in reasons.most_common():
            print(f"  skipped {n:4d}: {why}")
        for name, why in sorted(res.failed.items()):
            print(f"  FAILED {name}: {why}")
        self.assertEqual(res.failed, {}, "claimed operators must match the backend tests")
        per_op = Counter()
        for name in res.passed:
            per_op.update(corpus.ops_of(name))
        untested = [o for o in MUST_BE_TESTED if per_op[o] == 0]
        self.assertEqual(untested, [], "operators without a passing backend test")
        self.assertTrue(set(MUST_BE_TESTED) <= set(ops.OPS))
        self.assertGreater(len(res.passed), 700)
        # Variants the importer rejects must be rejected at import time with the reason, never fail at run time.
        for name in ("node/test_resize_upsample_scales_cubic", "node/test_training_dropout"):
            if os.path.isdir(os.path.join(corpus.CORPUS, name)):
                self.assertIn(name, res.skipped)
                self.assertIn("rejected at import", res.skipped[name])


if __name__ == "__main__":
    unittest.main()
