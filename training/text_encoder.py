"""The digits "text encoder": token + position embeddings and a final LayerNorm.

It stands where CLIP's text model stands in Stable Diffusion (input_ids [B,L] int64 ->
last_hidden_state [B,L,D]) and is trained jointly with the U-Net."""
import torch
from torch import nn


class TextEncoder(nn.Module):
    def __init__(self, vocab_size, max_length=8, hidden_size=64):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, hidden_size)
        self.position_embedding = nn.Embedding(max_length, hidden_size)
        self.final_layer_norm = nn.LayerNorm(hidden_size)
        nn.init.normal_(self.token_embedding.weight, std=0.5)
        nn.init.normal_(self.position_embedding.weight, std=0.1)
        self.register_buffer("position_ids", torch.arange(max_length)[None], persistent=False)

    def forward(self, input_ids):
        h = self.token_embedding(input_ids) + self.position_embedding(self.position_ids)
        return self.final_layer_norm(h)
