"""Conditions (encoder_hidden_states) for conditional U-Nets, made through the pipeline's text encoder.

Where they come from, first match wins:
  1. --conditions FILE.npy: precomputed embeddings [N, L, D]; rows are drawn at random.
  2. the pipeline's class prompts (model_index.json ld_surgeon.prompt_template + prompt_words) with its
     word-level tokenizer: a random word per sample; the word's index is the sample's class label.
  3. any tokenizer/vocab.json: random token sequences [bos, k random ids, eos, pad...] (k in 1..8).
The unconditional embedding for classifier-free guidance is the negative prompt's ("" by default) or, without
a usable tokenizer, the [bos, eos, pad...] sequence.
"""
from typing import List, Optional, Tuple

import numpy as np
import torch

from .onnx_import import OnnxModule
from .pipeline import Pipeline, PipelineError, load_npy


class Conditioner:
    def __init__(self, pipeline: Optional[Pipeline], device: torch.device, embeddings_path: Optional[str] = None):
        self.device = device
        self.pipeline = pipeline
        self.embeddings = None
        self.text_encoder = None
        self.tokenizer = None
        self.words: Optional[List[str]] = None
        self.template = None
        self.vocab = None
        if embeddings_path:
            e = load_npy(embeddings_path)
            if e.ndim != 3:
                raise PipelineError(f"{embeddings_path}: expected embeddings of shape [N, L, D], got {list(e.shape)}")
            self.embeddings = torch.from_numpy(e.astype(np.float32))
            self.mode = "embeddings"
            return
        if pipeline is None or not pipeline.text_encoder:
            where = pipeline.root if pipeline else "the U-Net's folder"
            raise PipelineError(f"{where}: the U-Net is conditional (has encoder_hidden_states) but there is no "
                                f"text_encoder/model.onnx; pass --conditions EMBEDDINGS.npy")
        self.text_encoder = OnnxModule(pipeline.text_encoder, trainable=False).to(device).eval()
        self.tokenizer = pipeline.tokenizer()
        prompts = pipeline.prompts()
        if prompts and self.tokenizer:
            self.template, self.words = prompts
            self.mode = "prompts"
            return
        self.vocab = pipeline.vocab_size_and_ids()
        if self.vocab and None not in (self.vocab["bos"], self.vocab["eos"], self.vocab["pad"]):
            self.mode = "tokens"
            return
        raise PipelineError(f"{pipeline.root}: cannot make conditions: no prompt words with a word-level tokenizer "
                            f"and no tokenizer/vocab.json with bos/eos/pad tokens; pass --conditions EMBEDDINGS.npy")

    @property
    def num_classes(self) -> Optional[int]:
        return len(self.words) if self.words else None

    def describe(self) -> str:
        if self.mode == "prompts":
            return f"prompts '{self.template}' over {len(self.words)} words"
        if self.mode == "tokens":
            return f"random token sequences from a {self.vocab['size']}-token vocabulary"
        return f"{len(self.embeddings)} precomputed embeddings"

    @torch.no_grad()
    def encode_ids(self, ids: torch.Tensor) -> torch.Tensor:
        name = self.text_encoder.input_names[0]
        out = self.text_encoder.run({name: ids.to(self.device)})
        return out[self.text_encoder.output_names[0]].float()

    def prompt_ids(self, labels: List[int]) -> torch.Tensor:
        return torch.tensor([self.tokenizer.encode(self.template.format(word=self.words[k])) for k in labels])

    def _token_row(self, g: torch.Generator) -> List[int]:
        v = self.vocab
        k = min(int(torch.randint(1, 9, (1,), generator=g)), v["max_length"] - 2)
        ids = [v["bos"]] + torch.randint(0, v["size"], (k,), generator=g).tolist() + [v["eos"]]
        return ids + [v["pad"]] * (v["max_length"] - len(ids))

    def sample(self, generators: List[torch.Generator]) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """One random condition per generator -> (embeddings [n, L, D] on the device, class labels [n] or None)."""
        if self.mode == "embeddings":
            idx = [int(torch.randint(0, len(self.embeddings), (1,), generator=g)) for g in generators]
            return self.embeddings[idx].to(self.device), None
        if self.mode == "prompts":
            labels = [int(torch.randint(0, len(self.words), (1,), generator=g)) for g in generators]
            return self.encode_ids(self.prompt_ids(labels)), torch.tensor(labels)
        return self.encode_ids(torch.tensor([self._token_row(g) for g in generators])), None

    def for_labels(self, labels: List[int]) -> torch.Tensor:
        return self.encode_ids(self.prompt_ids(labels))

    def for_prompts(self, prompts: List[str]) -> torch.Tensor:
        if self.tokenizer is None:
            raise PipelineError(f"{self.pipeline.root if self.pipeline else ''}: prompts need a word-level "
                                f"tokenizer (tokenizer/tokenizer_config.json with type word-level)")
        return self.encode_ids(torch.tensor([self.tokenizer.encode(p) for p in prompts]))

    def uncond(self, n: int) -> Optional[torch.Tensor]:
        if self.mode == "embeddings":
            return None
        if self.tokenizer is not None:
            neg = self.pipeline.negative_prompt() if self.pipeline else ""
            ids = torch.tensor([self.tokenizer.encode(neg)] * n)
        else:
            v = self.vocab
            row = [v["bos"], v["eos"]] + [v["pad"]] * (v["max_length"] - 2)
            ids = torch.tensor([row] * n)
        return self.encode_ids(ids)
