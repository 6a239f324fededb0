"""A small re-implementation of diffusers' UNet2DConditionModel.

diffusers is not installed here, and the pruning tool keys on the module scopes that
torch.onnx writes into node names (`/down_blocks.0/resnets.0/conv1/Conv`), so these
modules reproduce diffusers' class layout and attribute names exactly. Only the parts
that Stable Diffusion 1.x style U-Nets use are implemented: CrossAttnDownBlock2D,
DownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D, CrossAttnUpBlock2D, ResnetBlock2D,
Transformer2DModel with conv proj_in/proj_out, BasicTransformerBlock with GEGLU.

With `cross_attention_dim=None` the transformer blocks carry self-attention only
(diffusers' BasicTransformerBlock then has no norm2/attn2), and forward() takes no
encoder_hidden_states: that is the unconditional variant.
"""
import math
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class UNetConfig:
    sample_size: int = 8
    in_channels: int = 4
    out_channels: int = 4
    block_out_channels: Tuple[int, ...] = (64, 128, 128)
    layers_per_block: int = 2
    down_block_types: Tuple[str, ...] = ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")
    up_block_types: Tuple[str, ...] = ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")
    cross_attention_dim: Optional[int] = 64
    # diffusers' (misnamed) attention_head_dim: for SD 1.x it is the number of heads.
    attention_head_dim: int = 4
    norm_num_groups: int = 32
    norm_eps: float = 1e-5
    flip_sin_to_cos: bool = True
    freq_shift: int = 0
    # SDXL: transformer blocks per Transformer2DModel, one number or one per down block (up blocks reversed,
    # the mid block the last), and the "text_time" added conditions (pooled text embeds + time ids).
    transformer_layers_per_block: Union[int, Tuple[int, ...]] = 1
    addition_embed_type: Optional[str] = None
    addition_time_embed_dim: Optional[int] = None
    projection_class_embeddings_input_dim: Optional[int] = None

    def to_json_dict(self):
        d = asdict(self)
        d["_class_name"] = "UNet2DConditionModel"
        d["act_fn"] = "silu"
        d["mid_block_type"] = "UNetMidBlock2DCrossAttn"
        d["use_linear_projection"] = False
        d["only_cross_attention"] = False
        return d


def get_timestep_embedding(timesteps, dim, flip_sin_to_cos, downscale_freq_shift, max_period=10000):
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32) / (half - downscale_freq_shift)
    emb = timesteps[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    return emb


class Timesteps(nn.Module):
    def __init__(self, num_channels, flip_sin_to_cos, downscale_freq_shift):
        super().__init__()
        self.num_channels = num_channels
        self.flip_sin_to_cos = flip_sin_to_cos
        self.downscale_freq_shift = downscale_freq_shift

    def forward(self, timesteps):
        return get_timestep_embedding(timesteps, self.num_channels, self.flip_sin_to_cos, self.downscale_freq_shift)


class TimestepEmbedding(nn.Module):
    def __init__(self, in_channels, time_embed_dim):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, sample):
        return self.linear_2(self.act(self.linear_1(sample)))


class ResnetBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, temb_channels, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=eps)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, out_channels) if temb_channels else None
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=eps)
        self.dropout = nn.Dropout(0.0)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nonlinearity = nn.SiLU()
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, input_tensor, temb=None):
        h = self.conv1(self.nonlinearity(self.norm1(input_tensor)))
        if self.time_emb_proj is not None and temb is not None:
            h = h + self.time_emb_proj(self.nonlinearity(temb))[:, :, None, None]
        h = self.conv2(self.dropout(self.nonlinearity(self.norm2(h))))
        if self.conv_shortcut is not None:
            input_tensor = self.conv_shortcut(input_tensor)
        return input_tensor + h


class Attention(nn.Module):
    def __init__(self, query_dim, heads, dim_head, cross_attention_dim=None):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.scale = dim_head ** -0.5
        kv_dim = cross_attention_dim if cross_attention_dim is not None else query_dim
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(kv_dim, inner, bias=False)
        self.to_v = nn.Linear(kv_dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim), nn.Dropout(0.0)])

    def forward(self, hidden_states, encoder_hidden_states=None):
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        b = hidden_states.shape[0]
        q = self.to_q(hidden_states)
        k = self.to_k(context)
        v = self.to_v(context)
        # [B, N, H*d] -> [B, H, N, d]
        q = q.reshape(b, -1, self.heads, q.shape[-1] // self.heads).transpose(1, 2)
        k = k.reshape(b, -1, self.heads, k.shape[-1] // self.heads).transpose(1, 2)
        v = v.reshape(b, -1, self.heads, v.shape[-1] // self.heads).transpose(1, 2)
        attn = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * self.scale, dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2)
        out = out.reshape(b, -1, out.shape[-1] * self.heads)
        return self.to_out[1](self.to_out[0](out))


class GEGLU(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x):
        hidden, gate = self.proj(x).chunk(2, dim=-1)
        return hidden * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4):
        super().__init__()
        inner = dim * mult
        self.net = nn.ModuleList([GEGLU(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, dim_head, cross_attention_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, dim_head)
        if cross_attention_dim is not None:
            self.norm2 = nn.LayerNorm(dim)
            self.attn2 = Attention(dim, heads, dim_head, cross_attention_dim)
        else:
            self.norm2 = None
            self.attn2 = None
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, encoder_hidden_states=None):
        x = self.attn1(self.norm1(x)) + x
        if self.attn2 is not None:
            x = self.attn2(self.norm2(x), encoder_hidden_states) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    def __init__(self, heads, dim_head, in_channels, groups, cross_attention_dim, depth=1):
        super().__init__()
        inner = heads * dim_head
        self.norm = nn.GroupNorm(groups, in_channels, eps=1e-6)
        self.proj_in = nn.Conv2d(in_channels, inner, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(inner, heads, dim_head, cross_attention_dim) for _ in range(depth)])
        self.proj_out = nn.Conv2d(inner, in_channels, 1)

    def forward(self, hidden_states, encoder_hidden_states=None):
        b, _, h, w = hidden_states.shape
        residual = hidden_states
        x = self.proj_in(self.norm(hidden_states))
        inner = x.shape[1]
        x = x.permute(0, 2, 3, 1).reshape(b, h * w, inner)
        for block in self.transformer_blocks:
            x = block(x, encoder_hidden_states)
        x = x.reshape(b, h, w, inner).permute(0, 3, 1, 2)
        return self.proj_out(x) + residual


class Downsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _heads(cfg: UNetConfig, channels: int):
    heads = cfg.attention_head_dim
    return heads, channels // heads


def _down_resnets(cfg, in_channels, out_channels, temb_channels):
    return nn.ModuleList(
        [ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, temb_channels, cfg.norm_num_groups, cfg.norm_eps)
         for i in range(cfg.layers_per_block)])


def _down_pass(block, hidden_states, temb, encoder_hidden_states):
    """A down block's forward: each resnet (then its attention, in a cross-attention block) adds a skip
    connection, and so does the downsampler."""
    attentions = getattr(block, "attentions", None)
    output_states = []
    for i, resnet in enumerate(block.resnets):
        hidden_states = resnet(hidden_states, temb)
        if attentions is not None:
            hidden_states = attentions[i](hidden_states, encoder_hidden_states)
        output_states.append(hidden_states)
    if block.downsamplers is not None:
        for d in block.downsamplers:
            hidden_states = d(hidden_states)
        output_states.append(hidden_states)
    return hidden_states, output_states


def _up_pass(block, hidden_states, res_hidden_states, temb, encoder_hidden_states):
    """An up block's forward: each resnet (then its attention, in a cross-attention block) takes the next skip
    connection; the upsampler follows."""
    attentions = getattr(block, "attentions", None)
    for i, resnet in enumerate(block.resnets):
        hidden_states = torch.cat([hidden_states, res_hidden_states.pop()], dim=1)
        hidden_states = resnet(hidden_states, temb)
        if attentions is not None:
            hidden_states = attentions[i](hidden_states, encoder_hidden_states)
    if block.upsamplers is not None:
        for u in block.upsamplers:
            hidden_states = u(hidden_states)
    return hidden_states


class CrossAttnDownBlock2D(nn.Module):
    def __init__(self, cfg, in_channels, out_channels, temb_channels, add_downsample, depth=1):
        super().__init__()
        heads, dim_head = _heads(cfg, out_channels)
        self.resnets = _down_resnets(cfg, in_channels, out_channels, temb_channels)
        self.attentions = nn.ModuleList(
            [Transformer2DModel(heads, dim_head, out_channels, cfg.norm_num_groups, cfg.cross_attention_dim, depth)
             for _ in range(cfg.layers_per_block)])
        self.downsamplers = nn.ModuleList([Downsample2D(out_channels)]) if add_downsample else None

    def forward(self, hidden_states, temb, encoder_hidden_states=None):
        return _down_pass(self, hidden_states, temb, encoder_hidden_states)


class DownBlock2D(nn.Module):
    def __init__(self, cfg, in_channels, out_channels, temb_channels, add_downsample, depth=1):
        super().__init__()
        self.resnets = _down_resnets(cfg, in_channels, out_channels, temb_channels)
        self.downsamplers = nn.ModuleList([Downsample2D(out_channels)]) if add_downsample else None

    def forward(self, hidden_states, temb, encoder_hidden_states=None):
        return _down_pass(self, hidden_states, temb, encoder_hidden_states)


class UNetMidBlock2DCrossAttn(nn.Module):
    def __init__(self, cfg, channels, temb_channels, depth=1):
        super().__init__()
        heads, dim_head = _heads(cfg, channels)
        self.resnets = nn.ModuleList([ResnetBlock2D(channels, channels, temb_channels, cfg.norm_num_groups, cfg.norm_eps)
                                      for _ in range(2)])
        self.attentions = nn.ModuleList([Transformer2DModel(heads, dim_head, channels, cfg.norm_num_groups, cfg.cross_attention_dim, depth)])

    def forward(self, hidden_states, temb, encoder_hidden_states=None):
        hidden_states = self.resnets[0](hidden_states, temb)
        hidden_states = self.attentions[0](hidden_states, encoder_hidden_states)
        return self.resnets[1](hidden_states, temb)


def _up_resnets(cfg, in_channels, prev_output_channel, out_channels, temb_channels):
    num_layers = cfg.layers_per_block + 1
    resnets = []
    for i in range(num_layers):
        res_skip_channels = in_channels if i == num_layers - 1 else out_channels
        resnet_in_channels = prev_output_channel if i == 0 else out_channels
        resnets.append(ResnetBlock2D(resnet_in_channels + res_skip_channels, out_channels, temb_channels,
                                     cfg.norm_num_groups, cfg.norm_eps))
    return nn.ModuleList(resnets)


class CrossAttnUpBlock2D(nn.Module):
    def __init__(self, cfg, in_channels, prev_output_channel, out_channels, temb_channels, add_upsample, depth=1):
        super().__init__()
        heads, dim_head = _heads(cfg, out_channels)
        self.resnets = _up_resnets(cfg, in_channels, prev_output_channel, out_channels, temb_channels)
        self.attentions = nn.ModuleList(
            [Transformer2DModel(heads, dim_head, out_channels, cfg.norm_num_groups, cfg.cross_attention_dim, depth)
             for _ in range(cfg.layers_per_block + 1)])
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels)]) if add_upsample else None

    def forward(self, hidden_states, res_hidden_states, temb, encoder_hidden_states=None):
        return _up_pass(self, hidden_states, res_hidden_states, temb, encoder_hidden_states)


class UpBlock2D(nn.Module):
    def __init__(self, cfg, in_channels, prev_output_channel, out_channels, temb_channels, add_upsample, depth=1):
        super().__init__()
        self.resnets = _up_resnets(cfg, in_channels, prev_output_channel, out_channels, temb_channels)
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels)]) if add_upsample else None

    def forward(self, hidden_states, res_hidden_states, temb, encoder_hidden_states=None):
        return _up_pass(self, hidden_states, res_hidden_states, temb, encoder_hidden_states)


_DOWN = {"CrossAttnDownBlock2D": CrossAttnDownBlock2D, "DownBlock2D": DownBlock2D}
_UP = {"CrossAttnUpBlock2D": CrossAttnUpBlock2D, "UpBlock2D": UpBlock2D}


class UNet2DConditionModel(nn.Module):
    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.config = cfg
        boc = list(cfg.block_out_channels)
        temb = boc[0] * 4
        self.conv_in = nn.Conv2d(cfg.in_channels, boc[0], 3, padding=1)
        self.time_proj = Timesteps(boc[0], cfg.flip_sin_to_cos, cfg.freq_shift)
        self.time_embedding = TimestepEmbedding(boc[0], temb)
        if cfg.addition_embed_type == "text_time":
            self.add_time_proj = Timesteps(cfg.addition_time_embed_dim, cfg.flip_sin_to_cos, cfg.freq_shift)
            self.add_embedding = TimestepEmbedding(cfg.projection_class_embeddings_input_dim, temb)
        elif cfg.addition_embed_type is not None:
            raise ValueError(f"addition_embed_type {cfg.addition_embed_type!r} is not implemented (only 'text_time')")
        tl = cfg.transformer_layers_per_block
        depths = [tl] * len(boc) if isinstance(tl, int) else list(tl)

        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i, kind in enumerate(cfg.down_block_types):
            in_ch, out_ch = out_ch, boc[i]
            self.down_blocks.append(_DOWN[kind](cfg, in_ch, out_ch, temb, add_downsample=i < len(boc) - 1, depth=depths[i]))

        self.mid_block = UNetMidBlock2DCrossAttn(cfg, boc[-1], temb, depth=depths[-1])

        self.up_blocks = nn.ModuleList()
        rev = list(reversed(boc))
        out_ch = rev[0]
        for i, kind in enumerate(cfg.up_block_types):
            prev_out, out_ch = out_ch, rev[i]
            in_ch = rev[min(i + 1, len(boc) - 1)]
            self.up_blocks.append(_UP[kind](cfg, in_ch, prev_out, out_ch, temb, add_upsample=i < len(boc) - 1,
                                            depth=depths[len(boc) - 1 - i]))

        self.conv_norm_out = nn.GroupNorm(cfg.norm_num_groups, boc[0], eps=cfg.norm_eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(boc[0], cfg.out_channels, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states=None, text_embeds=None, time_ids=None):
        # timestep: float32 or int64 tensor of shape [B] (a 0-d tensor is broadcast).
        if timestep.dim() == 0:
            timestep = timestep[None].expand(sample.shape[0])
        emb = self.time_embedding(self.time_proj(timestep).to(sample.dtype))
        if self.config.addition_embed_type == "text_time":
            # diffusers' "text_time": each of the 6 time ids gets a sinusoidal embedding; those, flattened, follow
            # the pooled text embedding into add_embedding, whose output is added to the timestep embedding
            b = sample.shape[0]
            time_embeds = self.add_time_proj(time_ids.flatten()).reshape(b, -1).to(sample.dtype)
            emb = emb + self.add_embedding(torch.cat([text_embeds, time_embeds], dim=-1))
        sample = self.conv_in(sample)
        res_samples: List[torch.Tensor] = [sample]
        for block in self.down_blocks:
            sample, states = block(sample, emb, encoder_hidden_states)
            res_samples.extend(states)
        sample = self.mid_block(sample, emb, encoder_hidden_states)
        for block in self.up_blocks:
            n = len(block.resnets)
            skips = res_samples[-n:]
            res_samples = res_samples[:-n]
            sample = block(sample, skips, emb, encoder_hidden_states)
        return self.conv_out(self.conv_act(self.conv_norm_out(sample)))


class UnconditionalUNet(nn.Module):
    """Export wrapper: forward(sample, timestep) for a U-Net without cross-attention."""

    def __init__(self, unet: UNet2DConditionModel):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep):
        return self.unet(sample, timestep)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
