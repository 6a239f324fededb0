"""Runs ONNX's backend node tests (model.onnx + test_data_set_0) through the importer.

A test is claimed when every node of its model is an operator of the importer's table; claimed tests must
match the expected outputs (rtol 1e-3, atol 1e-5). Exceptions (reported as skips, with the reason):
- the model or its data cannot be read by the installed onnx package (newer IR/types, sequences, optionals);
- an element type torch has no dtype for (uint16/32/64, strings, float8, int4...);
- an operator variant the importer rejects at import time with a clear error (e.g. cubic Resize,
  antialiased Resize, training-mode Dropout), which is the behaviour a user sees too.
"""
import glob
import os
from collections import Counter
from typing import Dict, List

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from ld_surgeon_distill import ops
from ld_surgeon_distill.onnx_import import OnnxModule, UnsupportedOperatorError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.environ.get("LD_SURGEON_ONNX_CORPUS", os.path.join(REPO, "..", "shared", "corpus", "onnx-backend"))
RTOL, ATOL = 1e-3, 1e-5


class Result:
    def __init__(self):
        self.passed: List[str] = []
        self.skipped: Dict[str, str] = {}
        self.failed: Dict[str, str] = {}
        self.claimed_ops = Counter()


def _read_tensor(path):
    tp = onnx.TensorProto()
    with open(path, "rb") as f:
        tp.ParseFromString(f.read())
    if tp.data_type == onnx.TensorProto.UNDEFINED or (not tp.dims and not tp.raw_data and tp.data_type == 0):
        raise ValueError("not a tensor")
    return tp


def _to_numpy(tp):
    if tp.data_type == onnx.TensorProto.BFLOAT16:
        return ops.tensor_from_proto(tp).float().numpy()
    return numpy_helper.to_array(tp)


def _case_dirs():
    for suite in ("node", "pytorch-operator", "pytorch-converted", "simple"):
        for d in sorted(glob.glob(os.path.join(CORPUS, suite, "*"))):
            if os.path.isfile(os.path.join(d, "model.onnx")) and os.path.isdir(os.path.join(d, "test_data_set_0")):
                yield suite, d


def run_case(d: str, res: Result):
    name = os.path.relpath(d, CORPUS)
    try:
        model = onnx.load(os.path.join(d, "model.onnx"))
    except Exception:
        return  # unreadable by this onnx version: not claimable
    op_types = {n.op_type for n in model.graph.node}
    if any(n.domain not in ("", "ai.onnx") for n in model.graph.node) or not op_types <= set(ops.OPS) or not op_types:
        return
    res.claimed_ops.update(op_types)
    data = os.path.join(d, "test_data_set_0")
    try:
        ins = [_read_tensor(p) for p in sorted(glob.glob(os.path.join(data, "input_*.pb")),
                                               key=lambda p: int(p.rsplit("_", 1)[1][:-3]))]
        outs = [_read_tensor(p) for p in sorted(glob.glob(os.path.join(data, "output_*.pb")),
                                                key=lambda p: int(p.rsplit("_", 1)[1][:-3]))]
    except Exception as e:
        res.skipped[name] = f"test data is not plain tensors ({type(e).__name__})"
        return
    for tp in ins + outs:
        if tp.data_type not in ops.ONNX_TO_TORCH_DTYPE:
            res.skipped[name] = f"element type {ops.dtype_name(tp.data_type)} has no torch dtype"
            return
    for vi in list(model.graph.input) + list(model.graph.output):
        et = vi.type.tensor_type.elem_type
        if not vi.type.HasField("tensor_type"):
            res.skipped[name] = "non-tensor graph input/output"
            return
        if et and et not in ops.ONNX_TO_TORCH_DTYPE:
            res.skipped[name] = f"element type {ops.dtype_name(et)} has no torch dtype"
            return
    try:
        module = OnnxModule(model, source=name)
    except UnsupportedOperatorError as e:
        res.skipped[name] = "rejected at import: " + "; ".join(e.problems)
        return
    except Exception as e:
        res.failed[name] = f"import failed: {e}"
        return
    feeds = {}
    for input_name, tp in zip(module.input_names, ins):
        feeds[input_name] = ops.tensor_from_proto(tp)
    try:
        with torch.no_grad():
            got = module.run(feeds)
    except Exception as e:
        res.failed[name] = f"run failed: {e}"
        return
    for out_name, tp in zip(module.output_names, outs):
        want = _to_numpy(tp)
        have = got[out_name]
        have = (have.float() if have.dtype == torch.bfloat16 else have).detach().numpy()
        if tuple(have.shape) != tuple(want.shape):
            res.failed[name] = f"output {out_name}: shape {have.shape} != expected {want.shape}"
            return
        try:
            if want.dtype.kind in "fc":
                np.testing.assert_allclose(have.astype(want.dtype), want, rtol=RTOL, atol=ATOL, equal_nan=True)
            else:
                np.testing.assert_array_equal(have.astype(want.dtype), want)
        except AssertionError as e:
            res.failed[name] = f"output {out_name}: {str(e).strip().splitlines()[-3:]}"
            return
    res.passed.append(name)


def ops_of(name: str):
    """Operator types of a corpus test's model, by its name relative to the corpus."""
    model = onnx.load(os.path.join(CORPUS, name, "model.onnx"))
    return {n.op_type for n in model.graph.node}


def run_all() -> Result:
    res = Result()
    for _, d in _case_dirs():
        run_case(d, res)
    return res
