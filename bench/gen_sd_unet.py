#!/usr/bin/env python3
"""Generates a Stable Diffusion 1.5-shaped U-Net with deterministic random weights as ONNX
(opset 17) with all weights in one external-data sidecar, for loader/scoring benchmarks.

  /usr/bin/python3 bench/gen_sd_unet.py [OUT_DIR] [--width-mult 0.25] [--seed 0] [--embedded]

Writes OUT_DIR/model.onnx + OUT_DIR/model.onnx.data + OUT_DIR/config.json (default OUT_DIR:
bench/out/sd15-unet or bench/out/sd15-unet-w<mult>). The module structure is training/unet.py's
diffusers-compatible UNet2DConditionModel, so node names carry the same scopes as a real SD export
(/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul, ...). Prints one JSON line.

--embedded keeps every weight inside model.onnx (raw_data, no sidecar): the single-file layout the
reader benchmark indexes (width x0.5 gives an ~880 MB file; protobuf caps a single file at 2 GB).

torch 1.13 cannot serialise a >2 GB ModelProto in one piece, so the export goes to a staging
folder (torch writes one file per tensor there when needed), is re-saved by onnx with every tensor
in a single sidecar, checked by path, and the folder is renamed into place at the end.
"""
import argparse
import json
import inspect
import math
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "training"))

import onnx  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from unet import UNet2DConditionModel, UNetConfig, count_parameters  # noqa: E402

SD15 = dict(sample_size=64, in_channels=4, out_channels=4, block_out_channels=(320, 640, 1280, 1280),
            layers_per_block=2, cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"))
SEQ_LEN = 77
# torch >= 2.9 exports with dynamo by default; the TorchScript tracer keeps the module scopes in node names
TRACER = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def config(width_mult, sample_size):
    boc = tuple(int(round(c * width_mult / 8)) * 8 for c in SD15["block_out_channels"])
    groups = 32 if all(c % 32 == 0 for c in boc) else math.gcd(*boc, 32)
    return UNetConfig(**{**SD15, "block_out_channels": boc, "norm_num_groups": groups, "sample_size": sample_size})


def build(cfg, seed):
    torch.manual_seed(seed)
    model = UNet2DConditionModel(cfg).eval()
    with torch.no_grad():
        # Perturb the norms so no two initial weights are identical: the exporter would otherwise
        # fold identical constants into one initializer shared through Identity nodes.
        for m in model.modules():
            if isinstance(m, (nn.GroupNorm, nn.LayerNorm)):
                m.weight.add_(torch.randn_like(m.weight) * 0.05)
                m.bias.add_(torch.randn_like(m.bias) * 0.05)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--width-mult", type=float, default=1.0, help="channel width multiplier (0.25 = quick variant)")
    ap.add_argument("--sample-size", type=int, default=64, help="latent height/width of the trace input")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedded", action="store_true", help="all weights inside model.onnx (no .data sidecar; < 2 GB only)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(int(os.environ.get("GEN_THREADS", "2")), torch.get_num_threads())))
    suffix = ("" if args.width_mult == 1.0 else f"-w{args.width_mult:g}") + ("-embedded" if args.embedded else "")
    out = os.path.abspath(args.out_dir or os.path.join(HERE, "out", f"sd15-unet{suffix}"))
    stage = out + ".staging"
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(os.path.join(stage, "torch"))
    t0 = time.time()
    cfg = config(args.width_mult, args.sample_size)
    model = build(cfg, args.seed)
    params = count_parameters(model)
    s = args.sample_size
    inputs = (torch.randn(1, 4, s, s), torch.tensor([981.0]), torch.randn(1, SEQ_LEN, cfg.cross_attention_dim))
    raw = os.path.join(stage, "torch", "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, inputs, raw, opset_version=17,
                          input_names=["sample", "timestep", "encoder_hidden_states"], output_names=["out_sample"],
                          dynamic_axes={"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "batch"},
                                        "encoder_hidden_states": {0: "batch", 1: "sequence"},
                                        "out_sample": {0: "batch", 2: "height", 3: "width"}},
                          do_constant_folding=True, **TRACER)
    del model
    t_export = time.time() - t0
    proto = onnx.load(raw)  # pulls in any per-tensor files torch wrote beside it
    final = os.path.join(stage, "model.onnx")
    if args.embedded:
        if proto.ByteSize() >= 2**31:
            sys.exit(f"gen_sd_unet: --embedded needs a model under 2 GB; width x{args.width_mult:g} is {proto.ByteSize()} bytes")
        onnx.save_model(proto, final)
    else:
        onnx.save_model(proto, final, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=1024)
    n_nodes = len(proto.graph.node)
    del proto
    shutil.rmtree(os.path.join(stage, "torch"))
    onnx.checker.check_model(final)  # by path: works past 2 GB
    with open(os.path.join(stage, "config.json"), "w") as f:
        json.dump({**cfg.to_json_dict(), "timestep_dtype": "float32", "random_weights_seed": args.seed,
                   "width_mult": args.width_mult, "embedded": args.embedded}, f, indent=1)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(stage, out)
    sizes = {n: os.path.getsize(os.path.join(out, n)) for n in os.listdir(out)}
    print(json.dumps({"out_dir": out, "width_mult": args.width_mult, "block_out_channels": list(cfg.block_out_channels),
                      "parameters": params, "nodes": n_nodes, "bytes": sizes, "export_seconds": round(t_export, 1),
                      "total_seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
