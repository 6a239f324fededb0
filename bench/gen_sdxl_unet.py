#!/usr/bin/env python3
"""Generates the full Stable Diffusion XL U-Net graph as ONNX (opset 17) with deterministic random weights in
one external-data sidecar (about 2.57 B parameters, 10 GB), for the full-scale benchmarks (bench/xl.ts).

  /usr/bin/python3 bench/gen_sdxl_unet.py [OUT_DIR] [--width-mult 1.0] [--seed 0]

Built node by node (bench/streaming_graph.py): torch.onnx.export would need the 10 GB of weights in memory
twice. The structure and scope names are diffusers' UNet2DConditionModel with SDXL's config: block channels
320/640/1280, transformer_layers_per_block 1/2/10 (blocks of 2 and 10 transformer_blocks), linear projections,
cross-attention on a 2048-wide encoder_hidden_states, head dim 64, and addition_embed_type "text_time"
(add_time_proj over the six time_ids, add_embedding over them and the pooled text_embeds). Inputs are Optimum's
names: sample, timestep, encoder_hidden_states, text_embeds, time_ids; output out_sample. Dropout and
exporter-specific constant folding aside, each module emits the op pattern the TorchScript exporter emits.
--width-mult < 1 scales every channel count for a smaller file with the same nodes. Prints one JSON line.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from streaming_graph import generate  # noqa: E402

CROSS_DIM = 2048
POOLED_DIM = 1280
TIME_IDS = 6
ADD_TIME_DIM = 256


class SDXL:
    def __init__(self, g, width_mult):
        self.g = g
        self.ch = [int(round(c * width_mult / 32)) * 32 for c in (320, 640, 1280)]
        self.temb = 4 * self.ch[0]
        self.layers = (0, 2, 10)   # transformer blocks per attention, per level (level 0 has no attention)

    # --- building blocks ---------------------------------------------------------------------------------
    def timesteps(self, t, dim, scope):
        g = self.g
        half = dim // 2
        freqs = np.exp(-np.log(10000.0) * np.arange(half, dtype=np.float32) / half).astype(np.float32)
        arg = g.node("Mul", [g.node("Unsqueeze", [t, g.const(scope, [1])], scope), g.const(scope, freqs, np.float32)], scope)
        return g.node("Concat", [g.node("Cos", [arg], scope), g.node("Sin", [arg], scope)], scope, axis=1)

    def resnet(self, x, emb, cin, cout, scope):
        g = self.g
        h = g.silu(g.group_norm(x, cin, 32, f"{scope}/norm1"), f"{scope}/nonlinearity")
        h = g.conv(h, cin, cout, 3, f"{scope}/conv1")
        t = g.linear(g.silu(emb, f"{scope}/nonlinearity"), self.temb, cout, f"{scope}/time_emb_proj")
        t = g.node("Unsqueeze", [t, g.const(scope, [2, 3])], scope)
        h = g.node("Add", [h, t], scope)
        h = g.silu(g.group_norm(h, cout, 32, f"{scope}/norm2"), f"{scope}/nonlinearity")
        h = g.conv(h, cout, cout, 3, f"{scope}/conv2")
        skip = g.conv(x, cin, cout, 1, f"{scope}/conv_shortcut") if cin != cout else x
        return g.node("Add", [skip, h], scope)

    def attention(self, x, ctx, c, ctx_dim, scope):
        g = self.g
        q = g.linear(x, c, c, f"{scope}/to_q", bias=False)
        k = g.linear(ctx, ctx_dim, c, f"{scope}/to_k", bias=False)
        v = g.linear(ctx, ctx_dim, c, f"{scope}/to_v", bias=False)
        o = g.attention(q, k, v, c // 64, 64, scope)
        return g.linear(o, c, c, f"{scope}/to_out.0")

    def transformer_block(self, x, ehs, c, scope):
        g = self.g
        n1 = g.layer_norm(x, c, f"{scope}/norm1", eps=1e-5)
        x = g.node("Add", [self.attention(n1, n1, c, c, f"{scope}/attn1"), x], scope)
        n2 = g.layer_norm(x, c, f"{scope}/norm2", eps=1e-5)
        x = g.node("Add", [self.attention(n2, ehs, c, CROSS_DIM, f"{scope}/attn2"), x], scope)
        n3 = g.layer_norm(x, c, f"{scope}/norm3", eps=1e-5)
        proj = g.linear(n3, c, 8 * c, f"{scope}/ff/net.0/proj")
        value, gate = g.node("Split", [proj, g.const(f"{scope}/ff/net.0", [4 * c, 4 * c])], f"{scope}/ff/net.0", n_out=2, axis=-1)
        h = g.node("Mul", [value, g.gelu(gate, f"{scope}/ff/net.0")], f"{scope}/ff/net.0")
        return g.node("Add", [g.linear(h, 4 * c, c, f"{scope}/ff/net.2"), x], scope)

    def transformer2d(self, x, ehs, c, depth, scope):
        g = self.g
        shape = g.node("Shape", [x], scope)
        h = g.group_norm(x, c, 32, f"{scope}/norm", eps=1e-6)
        h = g.node("Transpose", [g.node("Reshape", [h, g.const(scope, [0, c, -1])], scope)], scope, perm=[0, 2, 1])
        h = g.linear(h, c, c, f"{scope}/proj_in")
        for i in range(depth):
            h = self.transformer_block(h, ehs, c, f"{scope}/transformer_blocks.{i}")
        h = g.linear(h, c, c, f"{scope}/proj_out")
        h = g.node("Reshape", [g.node("Transpose", [h], scope, perm=[0, 2, 1]), shape], scope)
        return g.node("Add", [h, x], scope)

    def build(self):
        g = self.g
        ch, temb = self.ch, self.temb
        sample = g.input("sample", ["batch", 4, "height", "width"])
        t = g.input("timestep", ["batch"])
        ehs = g.input("encoder_hidden_states", ["batch", "sequence", CROSS_DIM])
        text_embeds = g.input("text_embeds", ["batch", POOLED_DIM])
        time_ids = g.input("time_ids", ["batch", TIME_IDS])

        emb = self.timesteps(t, ch[0], "/time_proj")
        emb = g.linear(g.silu(g.linear(emb, ch[0], temb, "/time_embedding/linear_1"), "/time_embedding/act"), temb, temb, "/time_embedding/linear_2")
        flat = g.node("Reshape", [time_ids, g.const("/add_time_proj", [-1])], "/add_time_proj")
        tid = g.node("Reshape", [self.timesteps(flat, ADD_TIME_DIM, "/add_time_proj"), g.const("/add_time_proj", [-1, TIME_IDS * ADD_TIME_DIM])], "/add_time_proj")
        add_in = g.node("Concat", [text_embeds, tid], "", axis=-1)
        aug = g.linear(g.silu(g.linear(add_in, POOLED_DIM + TIME_IDS * ADD_TIME_DIM, temb, "/add_embedding/linear_1"), "/add_embedding/act"), temb, temb, "/add_embedding/linear_2")
        emb = g.node("Add", [emb, aug], "")

        x = g.conv(sample, 4, ch[0], 3, "/conv_in")
        skips = [(x, ch[0])]
        cin = ch[0]
        for level, c in enumerate(ch):
            s = f"/down_blocks.{level}"
            for r in range(2):
                x = self.resnet(x, emb, cin, c, f"{s}/resnets.{r}")
                cin = c
                if self.layers[level]:
                    x = self.transformer2d(x, ehs, c, self.layers[level], f"{s}/attentions.{r}")
                skips.append((x, c))
            if level < len(ch) - 1:
                x = g.conv(x, c, c, 3, f"{s}/downsamplers.0/conv", stride=2)
                skips.append((x, c))
        x = self.resnet(x, emb, ch[-1], ch[-1], "/mid_block/resnets.0")
        x = self.transformer2d(x, ehs, ch[-1], self.layers[-1], "/mid_block/attentions.0")
        x = self.resnet(x, emb, ch[-1], ch[-1], "/mid_block/resnets.1")
        for u, level in enumerate(reversed(range(len(ch)))):
            c = ch[level]
            s = f"/up_blocks.{u}"
            for r in range(3):
                skip, sc = skips.pop()
                x = g.node("Concat", [x, skip], s, axis=1)
                x = self.resnet(x, emb, cin + sc, c, f"{s}/resnets.{r}")
                cin = c
                if self.layers[level]:
                    x = self.transformer2d(x, ehs, c, self.layers[level], f"{s}/attentions.{r}")
            if level > 0:
                up = g.node("Resize", [x, "", g.const(f"{s}/upsamplers.0", [1.0, 1.0, 2.0, 2.0], np.float32)], f"{s}/upsamplers.0",
                            mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
                x = g.conv(up, c, c, 3, f"{s}/upsamplers.0/conv")
        x = g.silu(g.group_norm(x, ch[0], 32, "/conv_norm_out"), "/conv_act")
        out = g.conv(x, ch[0], 4, 3, "/conv_out")
        g.output(out, "out_sample", ["batch", 4, "height", "width"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--width-mult", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    suffix = "" if args.width_mult == 1.0 else f"-w{args.width_mult:g}"
    out = os.path.abspath(args.out_dir or os.path.join(here, "out", f"sdxl-unet{suffix}"))
    model = SDXL(None, args.width_mult)
    config = {"_class_name": "UNet2DConditionModel", "sample_size": 128, "in_channels": 4, "out_channels": 4,
              "block_out_channels": model.ch, "layers_per_block": 2, "transformer_layers_per_block": [1, 2, 10],
              "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
              "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
              "cross_attention_dim": CROSS_DIM, "addition_embed_type": "text_time", "addition_time_embed_dim": ADD_TIME_DIM,
              "projection_class_embeddings_input_dim": POOLED_DIM + TIME_IDS * ADD_TIME_DIM, "use_linear_projection": True,
              "timestep_dtype": "float32", "width_mult": args.width_mult}
    generate(out, args.seed, lambda g: SDXL(g, args.width_mult).build(), "sdxl_unet", "ld-surgeon bench/gen_sdxl_unet.py",
             config, {"width_mult": args.width_mult, "block_out_channels": model.ch})

if __name__ == "__main__":
    main()
