#!/usr/bin/env python3
"""Generates a FLUX.1-shaped diffusion transformer as ONNX (opset 17) with deterministic random weights in one
external-data sidecar, for the full-scale benchmarks (bench/xl.ts).

  /usr/bin/python3 bench/gen_flux.py [OUT_DIR] [--dim 1024] [--double 19] [--single 38] [--seed 0]

The block structure and scope names are diffusers' FluxTransformer2DModel: x_embedder, context_embedder,
time_text_embed (timestep / guidance / text embedders), 19 transformer_blocks.N (double stream: norm1 and
norm1_context AdaLayerNormZero, joint attention with to_q/k/v, add_q/k/v_proj, RMS norm_q/k, to_out.0,
to_add_out, ff and ff_context) and 38 single_transformer_blocks.N (norm, proj_mlp, attn, proj_out), norm_out,
proj_out. FLUX.1's inner width is 3072 (about 12 B parameters, 47 GB in float32); the default 1024 keeps every
node, name and block (node count identical at any width) with a ninth of the bytes (1.3 B parameters, 5.3 GB).
--dim 3072 writes the real size. Rotary position embeddings (img_ids/txt_ids) are left out: they add a few
nodes per block and no weights. Prints one JSON line.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from streaming_graph import generate  # noqa: E402

HEAD_DIM = 128
IN_CHANNELS = 64          # 16 latent channels packed 2x2
JOINT_DIM = 4096          # T5-XXL hidden size
POOLED_DIM = 768          # CLIP-L pooled
TIME_PROJ = 256


class Flux:
    def __init__(self, g, dim):
        self.g, self.d, self.heads = g, dim, dim // HEAD_DIM

    def modulate(self, x, shift, scale, scope):
        g = self.g
        axis = g.const(scope, [1])
        sc = g.node("Add", [g.node("Unsqueeze", [scale, axis], scope), g.const(scope, 1.0, np.float32)], scope)
        return g.node("Add", [g.node("Mul", [x, sc], scope), g.node("Unsqueeze", [shift, axis], scope)], scope)

    def ada_params(self, temb, n, scope):
        """SiLU(temb) → Linear(D, n·D) → n chunks of [B, D]."""
        g = self.g
        emb = g.linear(g.silu(temb, scope), self.d, n * self.d, f"{scope}/linear")
        return g.node("Split", [emb, g.const(scope, [self.d] * n)], scope, n_out=n, axis=1)

    def gated(self, residual, gate, y, scope):
        g = self.g
        return g.node("Add", [residual, g.node("Mul", [g.node("Unsqueeze", [gate, g.const(scope, [1])], scope), y], scope)], scope)

    def qkv(self, x, scope, names, norms):
        g = self.g
        q, k, v = (g.linear(x, self.d, self.d, f"{scope}/{n}") for n in names)
        return g.rms_norm(q, self.d, f"{scope}/{norms[0]}"), g.rms_norm(k, self.d, f"{scope}/{norms[1]}"), v

    def feed_forward(self, x, scope):
        g = self.g
        h = g.gelu(g.linear(x, self.d, 4 * self.d, f"{scope}/net.0/proj"), f"{scope}/net.0")
        return g.linear(h, 4 * self.d, self.d, f"{scope}/net.2")

    def double_block(self, x, ctx, temb, i):
        g, s = self.g, f"/transformer_blocks.{i}"
        sm, scm, gm, sf, scf, gf = self.ada_params(temb, 6, f"{s}/norm1")
        csm, cscm, cgm, csf, cscf, cgf = self.ada_params(temb, 6, f"{s}/norm1_context")
        nx = self.modulate(g.layer_norm(x, self.d, f"{s}/norm1/norm", affine=False), sm, scm, f"{s}/norm1")
        nc = self.modulate(g.layer_norm(ctx, self.d, f"{s}/norm1_context/norm", affine=False), csm, cscm, f"{s}/norm1_context")
        q, k, v = self.qkv(nx, f"{s}/attn", ("to_q", "to_k", "to_v"), ("norm_q", "norm_k"))
        cq, ck, cv = self.qkv(nc, f"{s}/attn", ("add_q_proj", "add_k_proj", "add_v_proj"), ("norm_added_q", "norm_added_k"))
        joint = [g.node("Concat", [c, t], f"{s}/attn", axis=1) for c, t in ((cq, q), (ck, k), (cv, v))]
        o = g.attention(*joint, self.heads, HEAD_DIM, f"{s}/attn")
        txt_len = g.node("Unsqueeze", [g.node("Gather", [g.node("Shape", [ctx], f"{s}/attn"), g.const(f"{s}/attn", 1)], f"{s}/attn", axis=0),
                                      g.const(f"{s}/attn", [0])], f"{s}/attn")
        o_ctx = g.node("Slice", [o, g.const(f"{s}/attn", [0]), txt_len, g.const(f"{s}/attn", [1])], f"{s}/attn")
        o_img = g.node("Slice", [o, txt_len, g.const(f"{s}/attn", [2**62]), g.const(f"{s}/attn", [1])], f"{s}/attn")
        x = self.gated(x, gm, g.linear(o_img, self.d, self.d, f"{s}/attn/to_out.0"), s)
        ctx = self.gated(ctx, cgm, g.linear(o_ctx, self.d, self.d, f"{s}/attn/to_add_out"), s)
        nx2 = self.modulate(g.layer_norm(x, self.d, f"{s}/norm2", affine=False), sf, scf, s)
        x = self.gated(x, gf, self.feed_forward(nx2, f"{s}/ff"), s)
        nc2 = self.modulate(g.layer_norm(ctx, self.d, f"{s}/norm2_context", affine=False), csf, cscf, s)
        ctx = self.gated(ctx, cgf, self.feed_forward(nc2, f"{s}/ff_context"), s)
        return x, ctx

    def single_block(self, x, temb, i):
        g, s = self.g, f"/single_transformer_blocks.{i}"
        shift, scale, gate = self.ada_params(temb, 3, f"{s}/norm")
        nx = self.modulate(g.layer_norm(x, self.d, f"{s}/norm/norm", affine=False), shift, scale, f"{s}/norm")
        mlp = g.gelu(g.linear(nx, self.d, 4 * self.d, f"{s}/proj_mlp"), f"{s}/act_mlp")
        q, k, v = self.qkv(nx, f"{s}/attn", ("to_q", "to_k", "to_v"), ("norm_q", "norm_k"))
        o = g.attention(q, k, v, self.heads, HEAD_DIM, f"{s}/attn")
        h = g.linear(g.node("Concat", [o, mlp], s, axis=2), 5 * self.d, self.d, f"{s}/proj_out")
        return self.gated(x, gate, h, s)

    def timestep_embedding(self, t, scope):
        g = self.g
        half = TIME_PROJ // 2
        freqs = np.exp(-np.log(10000.0) * np.arange(half, dtype=np.float32) / half).astype(np.float32)
        arg = g.node("Mul", [g.node("Unsqueeze", [t, g.const(scope, [1])], scope), g.const(scope, freqs, np.float32)], scope)
        return g.node("Concat", [g.node("Cos", [arg], scope), g.node("Sin", [arg], scope)], scope, axis=1)

    def mlp_embedder(self, x, fan_in, scope):
        g = self.g
        return g.linear(g.silu(g.linear(x, fan_in, self.d, f"{scope}/linear_1"), scope), self.d, self.d, f"{scope}/linear_2")

    def build(self, n_double, n_single):
        g = self.g
        x = g.input("hidden_states", ["batch", "image_tokens", IN_CHANNELS])
        ctx = g.input("encoder_hidden_states", ["batch", "text_tokens", JOINT_DIM])
        pooled = g.input("pooled_projections", ["batch", POOLED_DIM])
        t = g.input("timestep", ["batch"])
        guidance = g.input("guidance", ["batch"])
        te = "/time_text_embed"
        temb = g.node("Add", [self.mlp_embedder(self.timestep_embedding(g.node("Mul", [t, g.const(te, 1000.0, np.float32)], te), f"{te}/time_proj"), TIME_PROJ, f"{te}/timestep_embedder"),
                              self.mlp_embedder(self.timestep_embedding(g.node("Mul", [guidance, g.const(te, 1000.0, np.float32)], te), f"{te}/guidance_proj"), TIME_PROJ, f"{te}/guidance_embedder")], te)
        temb = g.node("Add", [temb, self.mlp_embedder(pooled, POOLED_DIM, f"{te}/text_embedder")], te)
        x = g.linear(x, IN_CHANNELS, self.d, "/x_embedder")
        ctx = g.linear(ctx, JOINT_DIM, self.d, "/context_embedder")
        for i in range(n_double):
            x, ctx = self.double_block(x, ctx, temb, i)
        txt_len = g.node("Unsqueeze", [g.node("Gather", [g.node("Shape", [ctx], ""), g.const("", 1)], "", axis=0), g.const("", [0])], "")
        x = g.node("Concat", [ctx, x], "", axis=1)
        for i in range(n_single):
            x = self.single_block(x, temb, i)
        x = g.node("Slice", [x, txt_len, g.const("", [2**62]), g.const("", [1])], "")
        scale, shift = self.ada_params(temb, 2, "/norm_out")
        x = self.modulate(g.layer_norm(x, self.d, "/norm_out/norm", affine=False), shift, scale, "/norm_out")
        out = g.linear(x, self.d, IN_CHANNELS, "/proj_out")
        g.output(out, "sample", ["batch", "image_tokens", IN_CHANNELS])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--dim", type=int, default=1024, help="inner width (FLUX.1: 3072); a multiple of 128")
    ap.add_argument("--double", type=int, default=19)
    ap.add_argument("--single", type=int, default=38)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.dim % HEAD_DIM:
        sys.exit(f"gen_flux: --dim must be a multiple of {HEAD_DIM}")
    here = os.path.dirname(os.path.abspath(__file__))
    suffix = "" if (args.dim, args.double, args.single) == (1024, 19, 38) else f"-d{args.dim}-{args.double}x{args.single}"
    out = os.path.abspath(args.out_dir or os.path.join(here, "out", f"flux{suffix}"))
    config = {"_class_name": "FluxTransformer2DModel", "in_channels": IN_CHANNELS, "num_layers": args.double,
              "num_single_layers": args.single, "attention_head_dim": HEAD_DIM, "num_attention_heads": args.dim // HEAD_DIM,
              "joint_attention_dim": JOINT_DIM, "pooled_projection_dim": POOLED_DIM, "guidance_embeds": True,
              "rotary_embeddings": "omitted"}
    generate(out, args.seed, lambda g: Flux(g, args.dim).build(args.double, args.single), "flux_transformer",
             "ld-surgeon bench/gen_flux.py", config, {"dim": args.dim, "double_blocks": args.double, "single_blocks": args.single})

if __name__ == "__main__":
    main()
