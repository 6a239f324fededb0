"""SDXL's two text encoders, shrunk: CLIP-shaped transformer encoders for the digits-xl example.

SDXL conditions its U-Net through CLIP ViT-L (text_encoder/, CLIPTextModel) and OpenCLIP bigG
(text_encoder_2/, CLIPTextModelWithProjection). diffusers takes hidden_states[-2] (the penultimate layer) of both,
concatenated on the feature axis, as encoder_hidden_states, and encoder 2's projected pooled output (the final
LayerNorm's state at the eos token, through text_projection) as the U-Net's `text_embeds`. These modules have the
same structure (token + position embeddings, pre-LN encoder layers, final LayerNorm, projection) and the ONNX
export gives the outputs Optimum's SDXL export gives (`last_hidden_state`, `pooler_output` or `text_embeds`,
`hidden_states.0` … `hidden_states.N`). The layers reuse unet.py's Attention and FeedForward; no causal mask (the
prompts are a few words; CLIP's mask is not what makes this an SDXL pipeline)."""
import torch
from torch import nn

from unet import Attention, FeedForward


class EncoderLayer(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads, dim // heads)
        self.layer_norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, mult=2)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class Embeddings(nn.Module):
    def __init__(self, vocab_size, max_length, dim):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_embedding = nn.Embedding(max_length, dim)
        nn.init.normal_(self.token_embedding.weight, std=0.5)
        nn.init.normal_(self.position_embedding.weight, std=0.1)
        self.register_buffer("position_ids", torch.arange(max_length)[None], persistent=False)

    def forward(self, input_ids):
        return self.token_embedding(input_ids) + self.position_embedding(self.position_ids)


class XLTextEncoder(nn.Module):
    """input_ids [B, L] -> dict of last_hidden_state [B, L, D], hidden_states (tuple of num_layers + 1 [B, L, D]),
    and pooler_output [B, D] (no projection) or text_embeds [B, P] (with projection_dim, as encoder 2)."""

    def __init__(self, vocab_size, max_length, hidden_size, num_layers, heads, eos_token_id, projection_dim=None):
        super().__init__()
        self.eos_token_id = eos_token_id
        self.embeddings = Embeddings(vocab_size, max_length, hidden_size)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList([EncoderLayer(hidden_size, heads) for _ in range(num_layers)])
        self.final_layer_norm = nn.LayerNorm(hidden_size)
        self.text_projection = nn.Linear(hidden_size, projection_dim, bias=False) if projection_dim else None
        # set while exporting: forward returns the tuple written under output_names() (module scopes unchanged)
        self.export_tuple = False

    def forward(self, input_ids):
        h = self.embeddings(input_ids)
        states = [h]
        for layer in self.encoder.layers:
            h = layer(h)
            states.append(h)
        last = self.final_layer_norm(h)
        # CLIP pools the final state at the eos token; a one-hot mask (Equal, Cast, Mul, ReduceSum in ONNX) picks it
        eos = (input_ids == self.eos_token_id).to(last.dtype).unsqueeze(-1)
        pooled = (last * eos).sum(dim=1)
        out = {"last_hidden_state": last, "hidden_states": tuple(states)}
        if self.text_projection is not None:
            out["text_embeds"] = self.text_projection(pooled)
        else:
            out["pooler_output"] = pooled
        if self.export_tuple:
            return tuple(out[n] if not n.startswith("hidden_states.") else states[int(n.split(".")[1])]
                         for n in self.output_names())
        return out

    def penultimate(self, input_ids):
        """What SDXL's U-Net gets from this encoder: hidden_states[-2] (clip_skip 0)."""
        return self.forward(input_ids)["hidden_states"][-2]

    def output_names(self):
        """The ONNX output names in the order Optimum's SDXL export lists them."""
        pooled = "text_embeds" if self.text_projection is not None else "pooler_output"
        if self.text_projection is not None:
            return [pooled, "last_hidden_state"] + [f"hidden_states.{i}" for i in range(len(self.encoder.layers) + 1)]
        return ["last_hidden_state", pooled] + [f"hidden_states.{i}" for i in range(len(self.encoder.layers) + 1)]
