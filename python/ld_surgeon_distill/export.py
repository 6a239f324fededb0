"""Writing an imported (and trained) graph back to ONNX with torch.onnx.export.

The interpreter calls every node through submodules named after its original scope while it is traced, so
the exported node names keep `/down_blocks.1/...`; parameters keep their initializer names where those were
module paths. Files are written to a temporary name in the destination folder and renamed into place.
"""
import inspect
import os
import tempfile
import warnings
from typing import Dict, Optional, Sequence

import onnx
import torch

from .onnx_import import OnnxModule
from .stale import EXPORT_DIR, remove_stale, temp_pattern

MAX_EXPORT_OPSET = 17  # the newest opset torch 1.13's exporter writes
PROTOBUF_LIMIT = 2 * 1024 ** 3
# torch >= 2.9 exports with dynamo by default; the TorchScript tracer is what records each node under the scope of
# the submodule that ran it, so names like /down_blocks.1/... survive: ask for it where the choice exists.
_TRACER = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def dynamic_axes_of(module: OnnxModule) -> Dict[str, Dict[int, str]]:
    """Input/output dims that the source graph left symbolic stay symbolic in the export."""
    axes: Dict[str, Dict[int, str]] = {}
    for table in (module.input_info, module.output_info):
        for name, info in table.items():
            dims = info["dims"] or []
            d = {i: (v if isinstance(v, str) else f"{name}_dim{i}") for i, v in enumerate(dims)
                 if not isinstance(v, int) or v <= 0}
            if d:
                axes[name] = d
    return axes


def export_onnx(module: OnnxModule, example_inputs: Dict[str, torch.Tensor], path: str,
                opset: Optional[int] = None, external_data: Optional[bool] = None) -> str:
    """Exports `module` (in eval mode, on CPU copies of the inputs) to `path` atomically; returns path."""
    opset = opset or min(max(module.opset, 13), MAX_EXPORT_OPSET)
    args = tuple(example_inputs[n] for n in module.input_names)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    was_training = module.training
    capture = list(module._capture)
    module.eval()
    module.set_capture([])
    remove_stale(folder, EXPORT_DIR)  # a killed earlier export's scratch folder
    tmpdir = tempfile.mkdtemp(prefix=f".export-{os.getpid()}-", dir=folder)
    try:
        tmp_model = os.path.join(tmpdir, "model.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings about constant shape arguments are expected
            torch.onnx.export(module, args, tmp_model, input_names=list(module.input_names),
                              output_names=list(module.output_names), opset_version=opset,
                              dynamic_axes=dynamic_axes_of(module), do_constant_folding=True, **_TRACER)
        size = sum(os.path.getsize(os.path.join(tmpdir, f)) for f in os.listdir(tmpdir))
        use_external = size >= PROTOBUF_LIMIT if external_data is None else external_data
        model = onnx.load(tmp_model)  # pulls in the per-tensor files torch writes for >2 GB models
        write_model_atomic(model, path, external_data=use_external)
    finally:
        for f in os.listdir(tmpdir):
            os.unlink(os.path.join(tmpdir, f))
        os.rmdir(tmpdir)
        module.set_capture(capture)
        module.train(was_training)
    return path


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


def write_model_atomic(model: onnx.ModelProto, path: str, external_data: bool = False):
    """Writes a model (and its one external data file, `<name>.data`) without ever leaving a partial file
    under the final name."""
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    remove_stale(folder, temp_pattern(base))  # a killed earlier write's temps
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}-", suffix=".tmp", dir=folder)
    os.close(fd)
    # mkstemp creates 0600; the model is an ordinary file others (a team, a serving user) read, as open() makes it
    os.chmod(tmp, 0o666 & ~_umask())
    data_name = base + ".data"
    tmp_data = None
    try:
        if external_data:
            tmp_data = tmp + ".data"
            onnx.save_model(model, tmp, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=os.path.basename(tmp_data), size_threshold=1024)
            # the model refers to its data file by name: point it at the final name before the renames
            m = onnx.load(tmp, load_external_data=False)
            for t in m.graph.initializer:
                for e in t.external_data:
                    if e.key == "location":
                        e.value = data_name
            with open(tmp, "wb") as f:
                f.write(m.SerializeToString())
            # two renames are not one atomic step: an earlier model goes first, so a kill between them leaves
            # no model rather than the old model beside new weights it was not written for
            if os.path.lexists(path):
                os.unlink(path)
            os.replace(tmp_data, os.path.join(folder, data_name))
            tmp_data = None
        else:
            with open(tmp, "wb") as f:
                f.write(model.SerializeToString())
        os.replace(tmp, path)
    finally:
        for t in (tmp, tmp_data):
            if t and os.path.exists(t):
                os.unlink(t)


def scoped_node_names(model: onnx.ModelProto) -> Sequence[str]:
    return [n.name for n in model.graph.node if n.name.startswith("/")]
