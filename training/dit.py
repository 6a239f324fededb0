"""A small latent diffusion transformer (DiT, Peebles & Xie 2023) with diffusers' module names.

Patch embedding over the latents (pos_embed.proj, fixed 2-D sin-cos positions), timestep + pooled text
conditioning through adaLN-Zero (every block's norm1.linear maps the condition to shift/scale/gate of its
self-attention and feed-forward; zero-initialised so each block starts as the identity) and, as PixArt does, the
text tokens through cross-attention: transformer_blocks.N with norm1 / attn1 (self; to_q, to_k, to_v, to_out.0) /
norm2 / attn2 (cross, keys and values from encoder_hidden_states) / norm3 / ff (net.0.proj GELU, net.2), the order
and names of diffusers' BasicTransformerBlock, then norm_out + proj_out and unpatchify.
The pooled embedding alone did not take (class accuracy at chance after 1200 steps): the digit word is one token of
eight, averaged away; cross-attention lets every patch look the word up. Input/output like the examples' U-Nets: sample [B,C,H,W], timestep float [B], encoder_hidden_states
[B,L,D] -> predicted noise."""
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DiTConfig:
    sample_size: int = 8
    in_channels: int = 4
    patch_size: int = 2
    hidden_size: int = 96
    num_layers: int = 6
    num_attention_heads: int = 4
    cross_attention_dim: int = 64   # width of encoder_hidden_states (keys/values of attn2; pooled into adaLN)
    mlp_ratio: int = 4
    cross_attention: bool = True

    def to_json_dict(self):
        return {"_class_name": "DiTTransformer2DModel", "_ld_surgeon_note": "training/dit.py", **asdict(self)}


def sincos_2d(dim, grid):
    """[grid*grid, dim] fixed 2-D sine-cosine positions (as DiT/MAE)."""
    def one(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2) / (d / 2))
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], 1)
    gh, gw = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")
    return np.concatenate([one(dim // 2, gh), one(dim // 2, gw)], 1).astype(np.float32)


def timestep_features(t, dim=256):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    a = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], 1)


class PatchEmbed(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.proj = nn.Conv2d(c.in_channels, c.hidden_size, c.patch_size, stride=c.patch_size)
        g = c.sample_size // c.patch_size
        self.register_buffer("pos", torch.from_numpy(sincos_2d(c.hidden_size, g))[None], persistent=False)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2) + self.pos


class TimestepEmbedding(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.linear_1 = nn.Linear(256, d)
        self.linear_2 = nn.Linear(d, d)

    def forward(self, t):
        return self.linear_2(F.silu(self.linear_1(timestep_features(t))))


class Attention(nn.Module):
    def __init__(self, d, heads, context_dim=None):
        super().__init__()
        self.heads = heads
        self.scale = 1.0 / math.sqrt(d // heads)
        kv = context_dim or d
        self.to_q, self.to_k, self.to_v = nn.Linear(d, d), nn.Linear(kv, d), nn.Linear(kv, d)
        self.to_out = nn.ModuleList([nn.Linear(d, d)])

    def forward(self, x, context=None):
        B, N, D = x.shape
        h = self.heads
        ctx = x if context is None else context
        q = self.to_q(x).reshape(B, N, h, D // h).transpose(1, 2)
        k, v = (f(ctx).reshape(B, ctx.shape[1], h, D // h).transpose(1, 2) for f in (self.to_k, self.to_v))
        w = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)
        return self.to_out[0]((w @ v).transpose(1, 2).reshape(B, N, D))


class GELU(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.proj = nn.Linear(d_in, d_out)

    def forward(self, x):
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    def __init__(self, d, mult):
        super().__init__()
        self.net = nn.ModuleList([GELU(d, d * mult), nn.Identity(), nn.Linear(d * mult, d)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class AdaLayerNormZero(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.linear = nn.Linear(d, 6 * d)
        self.norm = nn.LayerNorm(d, eps=1e-6)  # affine: torch 1.13 exports a weightless LayerNorm with an empty scale input
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x, c):
        sm, scm, gm, sf, scf, gf = self.linear(F.silu(c))[:, None].chunk(6, dim=2)
        return self.norm(x) * (1 + scm) + sm, gm, sf, scf, gf


class BasicTransformerBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c.hidden_size
        self.norm1 = AdaLayerNormZero(d)
        self.attn1 = Attention(d, c.num_attention_heads)
        self.cross = c.cross_attention
        if self.cross:
            self.norm2 = nn.LayerNorm(d, eps=1e-6)
            self.attn2 = Attention(d, c.num_attention_heads, c.cross_attention_dim)
        # affine: torch 1.13 exports a weightless LayerNorm with an empty scale input
        self.norm3 = nn.LayerNorm(d, eps=1e-6)
        self.ff = FeedForward(d, c.mlp_ratio)

    def forward(self, x, c, context):
        h, gm, sf, scf, gf = self.norm1(x, c)
        x = x + gm * self.attn1(h)
        if self.cross:
            x = x + self.attn2(self.norm2(x), context)
        return x + gf * self.ff(self.norm3(x) * (1 + scf) + sf)


class DiTTransformer2DModel(nn.Module):
    def __init__(self, c: DiTConfig):
        super().__init__()
        self.config = c
        d = c.hidden_size
        self.pos_embed = PatchEmbed(c)
        self.time_embedding = TimestepEmbedding(d)
        self.caption_projection = nn.Linear(c.cross_attention_dim, d)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(c) for _ in range(c.num_layers)])
        self.norm_out = nn.LayerNorm(d, eps=1e-6)  # affine: torch 1.13 exports a weightless LayerNorm with an empty scale input
        self.proj_out_1 = nn.Linear(d, 2 * d)   # final adaLN shift/scale, as DiT's proj_out_1
        self.proj_out = nn.Linear(d, c.patch_size * c.patch_size * c.in_channels)
        for m in (self.proj_out_1, self.proj_out):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, sample, timestep, encoder_hidden_states):
        c = self.time_embedding(timestep) + self.caption_projection(encoder_hidden_states.mean(dim=1))
        x = self.pos_embed(sample)
        for b in self.transformer_blocks:
            x = b(x, c, encoder_hidden_states)
        shift, scale = self.proj_out_1(F.silu(c))[:, None].chunk(2, dim=2)
        x = self.proj_out(self.norm_out(x) * (1 + scale) + shift)
        B, p, C = sample.shape[0], self.config.patch_size, self.config.in_channels
        g = self.config.sample_size // p
        x = x.reshape(B, g, g, p, p, C).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(B, C, g * p, g * p)
