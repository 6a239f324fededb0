"""A small AutoencoderKL in diffusers' layout (encoder/decoder/quant_conv/post_quant_conv).

Simplifications against diffusers' AutoencoderKL, which are fine because the VAE is not what
the pruner operates on: the mid blocks have two resnets and no attention, downsampling is a
stride-2 conv with symmetric padding."""
from dataclasses import asdict, dataclass
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from unet import Downsample2D, ResnetBlock2D, Upsample2D


@dataclass
class VAEConfig:
    in_channels: int = 1
    out_channels: int = 1
    latent_channels: int = 4
    block_out_channels: Tuple[int, ...] = (32, 64, 64)
    layers_per_block: int = 1
    norm_num_groups: int = 16
    sample_size: int = 32

    def to_json_dict(self, scaling_factor):
        d = asdict(self)
        d.update({"_class_name": "AutoencoderKL", "act_fn": "silu", "scaling_factor": scaling_factor,
                  "down_block_types": ["DownEncoderBlock2D"] * len(self.block_out_channels),
                  "up_block_types": ["UpDecoderBlock2D"] * len(self.block_out_channels)})
        return d


class _Block(nn.Module):
    def __init__(self, resnets, sampler_name=None, sampler=None):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        if sampler_name:
            setattr(self, sampler_name, nn.ModuleList([sampler]))
        self._sampler = sampler_name

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if self._sampler:
            for s in getattr(self, self._sampler):
                x = s(x)
        return x


class _Mid(nn.Module):
    def __init__(self, ch, groups):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(ch, ch, None, groups, 1e-6) for _ in range(2)])

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return x


class Encoder(nn.Module):
    def __init__(self, c: VAEConfig):
        super().__init__()
        boc, g = c.block_out_channels, c.norm_num_groups
        self.conv_in = nn.Conv2d(c.in_channels, boc[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        ch = boc[0]
        for i, out in enumerate(boc):
            res = [ResnetBlock2D(ch if j == 0 else out, out, None, g, 1e-6) for j in range(c.layers_per_block)]
            last = i == len(boc) - 1
            self.down_blocks.append(_Block(res, None if last else "downsamplers", None if last else Downsample2D(out)))
            ch = out
        self.mid_block = _Mid(ch, g)
        self.conv_norm_out = nn.GroupNorm(g, ch, eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch, 2 * c.latent_channels, 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for b in self.down_blocks:
            x = b(x)
        return self.conv_out(self.conv_act(self.conv_norm_out(self.mid_block(x))))


class Decoder(nn.Module):
    def __init__(self, c: VAEConfig):
        super().__init__()
        rev, g = list(reversed(c.block_out_channels)), c.norm_num_groups
        self.conv_in = nn.Conv2d(c.latent_channels, rev[0], 3, padding=1)
        self.mid_block = _Mid(rev[0], g)
        self.up_blocks = nn.ModuleList()
        ch = rev[0]
        for i, out in enumerate(rev):
            res = [ResnetBlock2D(ch if j == 0 else out, out, None, g, 1e-6) for j in range(c.layers_per_block + 1)]
            last = i == len(rev) - 1
            self.up_blocks.append(_Block(res, None if last else "upsamplers", None if last else Upsample2D(out)))
            ch = out
        self.conv_norm_out = nn.GroupNorm(g, ch, eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch, c.out_channels, 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for b in self.up_blocks:
            x = b(x)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    def __init__(self, c: VAEConfig):
        super().__init__()
        self.config = c
        self.encoder = Encoder(c)
        self.decoder = Decoder(c)
        self.quant_conv = nn.Conv2d(2 * c.latent_channels, 2 * c.latent_channels, 1)
        self.post_quant_conv = nn.Conv2d(c.latent_channels, c.latent_channels, 1)

    def encode_moments(self, x):
        mean, logvar = self.quant_conv(self.encoder(x)).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))


class VAEEncoderExport(nn.Module):
    """sample [B,C,H,W] -> latent_sample: the posterior mean, unscaled (multiply by scaling_factor)."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        return self.vae.encode_moments(sample)[0]


class VAEDecoderExport(nn.Module):
    """latent_sample (unscaled: divide U-Net latents by scaling_factor first) -> sample."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample)


def vae_loss(vae, x, kl_weight, generator=None):
    mean, logvar = vae.encode_moments(x)
    std = torch.exp(0.5 * logvar)
    z = mean + std * torch.randn(mean.shape, generator=generator)
    rec = vae.decode(z)
    rec_loss = F.mse_loss(rec, x) + 0.5 * F.l1_loss(rec, x)
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
    return rec_loss + kl_weight * kl, rec_loss.item(), kl.item()
