"""torch -> ONNX (opset 17) helpers shared by export.py and bench/gen_sd_unet.py."""
import os

import onnx
import torch

OPSET = 17


def export(module, args, path, input_names, output_names, dynamic_batch=True):
    """Exports with a dynamic batch axis on every input and output, writing through a temp file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    axes = {n: {0: "batch"} for n in input_names + output_names} if dynamic_batch else None
    tmp = path + ".tmp"
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, tmp, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=axes, do_constant_folding=True)
    model = onnx.load(tmp)
    onnx.checker.check_model(model)
    os.replace(tmp, path)
    return model
