"""Conditions (encoder_hidden_states) for conditional U-Nets, made through the pipeline's text encoder.

Where they come from, first match wins:
  1. --conditions FILE.npy: precomputed embeddings [N, L, D]; rows are drawn at random.
  2. the pipeline's class prompts (model_index.json ld_surgeon.prompt_template + prompt_words) with its
     word-level tokenizer: a random word per sample; the word's index is the sample's class label.
  3. any tokenizer/vocab.json: random token sequences [bos, k random ids, eos, pad...] (k in 1..8).
The unconditional embedding for classifier-free guidance is the negative prompt's ("" by default) or, without
a usable tokenizer, the [bos, eos, pad...] sequence.

SDXL pipelines (text_encoder_2/ + tokenizer_2/, a U-Net with text_embeds and time_ids inputs) get their conditions
as src/core/pipeline/sdxl-conditions.ts builds them, which is how diffusers' StableDiffusionXLPipeline does:
encoder_hidden_states = hidden_states[-(clip_skip + 2)] of both encoders concatenated on the feature axis (encoder 1
first), text_embeds = encoder 2's `text_embeds` output, and, with force_zeros_for_empty_prompt (the default), zeros
for the empty negative prompt. Such a condition is an SdxlCond (both tensors, row by row); time_ids are the same
for every row and come from sdxl_time_ids. With --conditions, the pooled embeddings come from --text-embeds.
"""
import os
import re
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .onnx_import import OnnxModule
from .pipeline import Pipeline, PipelineError, load_npy


class SdxlCond:
    """SDXL's per-row conditions: encoder hidden states [N, L, D] and pooled text_embeds [N, P]. Indexed, moved,
    assigned and concatenated by rows like a tensor, so the data, sampling and training code that passes a
    condition tensor around passes this unchanged."""

    def __init__(self, hidden: torch.Tensor, pooled: torch.Tensor):
        if hidden.shape[:-2] != pooled.shape[:-1]:
            raise ValueError(f"SDXL conditions: {list(hidden.shape)} hidden states but {list(pooled.shape)} text_embeds")
        self.hidden, self.pooled = hidden, pooled

    def __len__(self):
        return self.hidden.shape[0]

    def __getitem__(self, i):
        return SdxlCond(self.hidden[i], self.pooled[i])

    def __setitem__(self, i, v: "SdxlCond"):
        self.hidden[i] = v.hidden
        self.pooled[i] = v.pooled

    @property
    def shape(self):
        return self.hidden.shape

    @property
    def dtype(self):
        return self.hidden.dtype

    @property
    def device(self):
        return self.hidden.device

    def to(self, *args, **kwargs) -> "SdxlCond":
        return SdxlCond(self.hidden.to(*args, **kwargs), self.pooled.to(*args, **kwargs))

    def float(self) -> "SdxlCond":
        return self.to(torch.float32)

    def cpu(self) -> "SdxlCond":
        return self.to("cpu")

    def clone(self) -> "SdxlCond":
        return SdxlCond(self.hidden.clone(), self.pooled.clone())

    def expand(self, n: int, *_rest) -> "SdxlCond":
        return SdxlCond(self.hidden.expand(n, *self.hidden.shape[1:]), self.pooled.expand(n, *self.pooled.shape[1:]))


Cond = Union[torch.Tensor, SdxlCond]


def cat_conds(parts: Sequence[Cond]) -> Cond:
    """torch.cat over rows, for condition tensors and SdxlConds alike."""
    if parts and isinstance(parts[0], SdxlCond):
        return SdxlCond(torch.cat([p.hidden for p in parts]), torch.cat([p.pooled for p in parts]))
    return torch.cat(list(parts))


def is_sdxl(pipeline: Optional[Pipeline]) -> bool:
    return pipeline is not None and pipeline.file("text_encoder_2", "model.onnx") is not None


def sdxl_time_ids(pipeline: Optional[Pipeline], latent_shape: List[int]) -> torch.Tensor:
    """time_ids [6] = original_size + crops_coords_top_left + target_size, (height, width) each, as
    sdxl-conditions.ts addTimeIds (diffusers' _get_add_time_ids): model_index.json's ld_surgeon values when set, else
    the sample size in pixels (latent size x the VAE's factor, 2 ** (len(block_out_channels) - 1)) and (0, 0)."""
    ld = pipeline.ld if pipeline is not None else {}
    factor = 8
    for part in ("vae_decoder", "vae"):
        cfg = pipeline.file(part, "config.json") if pipeline is not None else None
        if cfg:
            from .pipeline import _read_json
            blocks = _read_json(cfg).get("block_out_channels")
            if isinstance(blocks, list) and blocks:
                factor = 2 ** (len(blocks) - 1)
            break
    px = [int(latent_shape[1]) * factor, int(latent_shape[2]) * factor]

    def pair(key, fallback):
        v = ld.get(key)
        if v is None:
            return fallback
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v)):
            raise PipelineError(f"{os.path.join(pipeline.root, 'model_index.json')}: ld_surgeon.{key} must be "
                                f"[height, width] non-negative integers")
        return v
    return torch.tensor(pair("original_size", px) + pair("crops_coords_top_left", [0, 0]) + pair("target_size", px),
                        dtype=torch.float32)


def _flag(pipeline: Pipeline, key: str, default):
    """A pipeline config entry of model_index.json (diffusers keeps them at the top level), or its ld_surgeon section."""
    v = pipeline.index.get(key, pipeline.ld.get(key))
    return default if v is None else v


def hidden_state_output(module: OnnxModule, skip: int, path: str) -> str:
    """hidden_states[-(clip_skip + 2)] among Optimum's hidden_states.0 ... hidden_states.N (sdxl-conditions.ts
    hiddenStateOutput)."""
    layers = sorted(int(m.group(1)) for m in (re.fullmatch(r"hidden_states\.(\d+)", n) for n in module.output_names) if m)
    if not layers:
        raise PipelineError(f"{path}: an SDXL text encoder must output its per-layer hidden states (hidden_states.0 "
                            f"... hidden_states.N, as Optimum exports them); it outputs {', '.join(module.output_names)}")
    idx = len(layers) - (skip + 2)
    if idx < 0:
        raise PipelineError(f"{path}: clip_skip {skip} asks for hidden state -{skip + 2}, but the encoder outputs "
                            f"only {len(layers)}")
    return f"hidden_states.{layers[idx]}"


class Conditioner:
    def __init__(self, pipeline: Optional[Pipeline], device: torch.device, embeddings_path: Optional[str] = None,
                 sdxl: bool = False, text_embeds_path: Optional[str] = None):
        """sdxl: the U-Net takes text_embeds (and time_ids): every condition is an SdxlCond."""
        self.device = device
        self.pipeline = pipeline
        self.sdxl = sdxl
        self.embeddings = None
        self.text_encoder = None
        self.text_encoder_2 = None
        self.tokenizer = None
        self.tokenizer_2 = None
        self.words: Optional[List[str]] = None
        self.template = None
        self.vocab = None
        if text_embeds_path and not sdxl:
            raise PipelineError(f"{text_embeds_path}: --text-embeds is for SDXL U-Nets (a text_embeds input); this "
                                f"U-Net has none")
        if embeddings_path:
            e = load_npy(embeddings_path)
            if e.ndim != 3:
                raise PipelineError(f"{embeddings_path}: expected embeddings of shape [N, L, D], got {list(e.shape)}")
            self.embeddings = torch.from_numpy(e.astype(np.float32))
            if sdxl:
                if not text_embeds_path:
                    raise PipelineError(f"{embeddings_path}: the U-Net is SDXL's (a text_embeds input): pass the pooled "
                                        f"embeddings [N, P] of the same prompts with --text-embeds")
                p = load_npy(text_embeds_path)
                if p.ndim != 2 or p.shape[0] != e.shape[0]:
                    raise PipelineError(f"{text_embeds_path}: expected pooled embeddings [{e.shape[0]}, P] (one per row "
                                        f"of {embeddings_path}), got {list(p.shape)}")
                self.embeddings = SdxlCond(self.embeddings, torch.from_numpy(p.astype(np.float32)))
            self.mode = "embeddings"
            return
        if sdxl:
            self._init_sdxl(pipeline)
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

    def _init_sdxl(self, pipeline: Optional[Pipeline]):
        where = pipeline.root if pipeline else "the U-Net's folder"
        if not is_sdxl(pipeline) or not pipeline.text_encoder:
            raise PipelineError(f"{where}: the U-Net is SDXL's (text_embeds and time_ids inputs) but there are no "
                                f"text_encoder/model.onnx and text_encoder_2/model.onnx; pass --conditions "
                                f"EMBEDDINGS.npy with --text-embeds POOLED.npy")
        skip = _flag(pipeline, "clip_skip", 0)
        if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
            raise PipelineError(f"{os.path.join(pipeline.root, 'model_index.json')}: clip_skip must be a non-negative integer")
        self.force_zeros = _flag(pipeline, "force_zeros_for_empty_prompt", True) is True
        te2_path = pipeline.file("text_encoder_2", "model.onnx")
        self.text_encoder = OnnxModule(pipeline.text_encoder, trainable=False).to(self.device).eval()
        self.text_encoder_2 = OnnxModule(te2_path, trainable=False).to(self.device).eval()
        self.hidden_outputs = (hidden_state_output(self.text_encoder, skip, pipeline.text_encoder),
                               hidden_state_output(self.text_encoder_2, skip, te2_path))
        if "text_embeds" not in self.text_encoder_2.output_names:
            raise PipelineError(f"{te2_path}: text_encoder_2 must output 'text_embeds' (the projected pooled embedding "
                                f"SDXL's U-Net takes); it outputs {', '.join(self.text_encoder_2.output_names)}")
        self.tokenizer = pipeline.tokenizer()
        self.tokenizer_2 = pipeline.tokenizer("tokenizer_2")
        prompts = pipeline.prompts()
        if not (prompts and self.tokenizer and self.tokenizer_2):
            raise PipelineError(f"{pipeline.root}: SDXL conditions are made here from the pipeline's prompt words "
                                f"(ld_surgeon.prompt_template + prompt_words) with word-level tokenizer/ and "
                                f"tokenizer_2/; for other prompts or tokenizers pass --conditions EMBEDDINGS.npy with "
                                f"--text-embeds POOLED.npy (the CLI and the extension write both)")
        self.template, self.words = prompts
        self.mode = "prompts"

    @torch.no_grad()
    def _encode_sdxl(self, prompts: List[str]) -> SdxlCond:
        ids1 = torch.tensor([self.tokenizer.encode(p) for p in prompts]).to(self.device)
        ids2 = torch.tensor([self.tokenizer_2.encode(p) for p in prompts]).to(self.device)
        h1, h2 = self.hidden_outputs
        o1 = self.text_encoder.run({self.text_encoder.input_names[0]: ids1}, [h1])
        o2 = self.text_encoder_2.run({self.text_encoder_2.input_names[0]: ids2}, [h2, "text_embeds"])
        a, b = o1[h1].float(), o2[h2].float()
        if a.shape[1] != b.shape[1]:
            raise PipelineError(f"{self.pipeline.root}: the two text encoders give {a.shape[1]} and {b.shape[1]} tokens; "
                                f"SDXL concatenates them per token, so the tokenizers' model_max_length must agree")
        return SdxlCond(torch.cat([a, b], dim=-1), o2["text_embeds"].float())

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
            return self.for_labels(labels), torch.tensor(labels)
        return self.encode_ids(torch.tensor([self._token_row(g) for g in generators])), None

    def for_labels(self, labels: List[int]) -> Cond:
        if self.sdxl:
            return self._encode_sdxl([self.template.format(word=self.words[k]) for k in labels])
        return self.encode_ids(self.prompt_ids(labels))

    def for_prompts(self, prompts: List[str]) -> Cond:
        if self.sdxl and self.mode == "prompts":
            return self._encode_sdxl(prompts)
        if self.tokenizer is None:
            raise PipelineError(f"{self.pipeline.root if self.pipeline else ''}: prompts need a word-level "
                                f"tokenizer (tokenizer/tokenizer_config.json with type word-level)")
        return self.encode_ids(torch.tensor([self.tokenizer.encode(p) for p in prompts]))

    def uncond(self, n: int) -> Optional[Cond]:
        if self.mode == "embeddings":
            return None
        if self.sdxl:
            # as sdxl-conditions.ts encodeSdxlPrompts: zeros (force_zeros_for_empty_prompt), else the encoded ""
            one = self._encode_sdxl([""])
            if self.force_zeros:
                one = SdxlCond(torch.zeros_like(one.hidden), torch.zeros_like(one.pooled))
            return one.expand(n)
        if self.tokenizer is not None:
            neg = self.pipeline.negative_prompt() if self.pipeline else ""
            ids = torch.tensor([self.tokenizer.encode(neg)] * n)
        else:
            v = self.vocab
            row = [v["bos"], v["eos"]] + [v["pad"]] * (v["max_length"] - 2)
            ids = torch.tensor([row] * n)
        return self.encode_ids(ids)
