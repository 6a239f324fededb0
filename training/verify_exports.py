"""Checks every ONNX model under examples/ with onnx.checker, the U-Net I/O names and module-scoped
node names, and the total size. Exits non-zero on a problem.  python3 verify_exports.py"""
import glob
import json
import os
import re
import sys

import numpy as np
import onnx

from pipelines import EXAMPLES, PIPELINES

SCOPE = re.compile(r"^/(conv_in|time_proj|time_embedding|down_blocks\.\d+|mid_block|up_blocks\.\d+|conv_norm_out|conv_act|conv_out)(/|$)")


def main():
    problems = []
    for path in sorted(glob.glob(os.path.join(EXAMPLES, "*", "**", "*.onnx"), recursive=True)):
        try:
            onnx.checker.check_model(path)
        except Exception as e:  # noqa: BLE001 - report every failing model
            problems.append(f"{path}: {e}")
            continue
        m = onnx.load(path)
        params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
        print(f"ok {os.path.relpath(path, EXAMPLES)}: {len(m.graph.node)} nodes, {params:,} initializer values, "
              f"inputs {[i.name for i in m.graph.input]} outputs {[o.name for o in m.graph.output]}")
    for name, spec in PIPELINES.items():
        m = onnx.load(os.path.join(EXAMPLES, name, "unet", "model.onnx"))
        want = ["sample", "timestep"] + (["encoder_hidden_states"] if spec["conditional"] else [])
        if [i.name for i in m.graph.input] != want or [o.name for o in m.graph.output] != ["out_sample"]:
            problems.append(f"{name}: unet inputs/outputs {[i.name for i in m.graph.input]} -> {[o.name for o in m.graph.output]}")
        # "/Cast" is the top-level t_emb.to(sample.dtype), as in diffusers' own forward
        unscoped = [n.name for n in m.graph.node if n.op_type != "Constant" and n.name != "/Cast" and not SCOPE.match(n.name)]
        if unscoped:
            problems.append(f"{name}: {len(unscoped)} U-Net nodes without a module scope, e.g. {unscoped[:5]}")
        idx = json.load(open(os.path.join(EXAMPLES, name, "model_index.json")))
        for rel in ("vae_encoder/config.json", "vae_decoder/config.json"):
            sf = json.load(open(os.path.join(EXAMPLES, name, rel)))["scaling_factor"]
            if abs(sf - idx["ld_surgeon"]["latent_scaling_factor"]) > 1e-9:
                problems.append(f"{name}/{rel}: scaling_factor differs from model_index.json")
    total = sum(os.path.getsize(f) for f in glob.glob(os.path.join(EXAMPLES, "**", "*"), recursive=True) if os.path.isfile(f))
    print(f"examples/ total {total / 2**20:.1f} MiB")
    if total > 30 * 2**20:
        problems.append(f"examples/ is {total / 2**20:.1f} MiB, over 30 MiB")
    for p in problems:
        print("PROBLEM", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
