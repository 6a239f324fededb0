"""A diffusion pipeline folder in the exported (diffusers ONNX) layout, and how a U-Net argument finds one.

    <pipeline>/model_index.json             (optional; its "ld_surgeon" section adds latent shape, scaling factor,
                                              guidance scale, prompt template/words)
    <pipeline>/unet/model.onnx              sample, timestep[, encoder_hidden_states] -> out_sample
    <pipeline>/scheduler/scheduler_config.json
    <pipeline>/vae_decoder/model.onnx       latent_sample -> sample      (optional: needed for image metrics)
    <pipeline>/vae_encoder/model.onnx       sample -> latent_sample      (optional: needed for --data images)
    <pipeline>/text_encoder/model.onnx      input_ids -> last_hidden_state (conditional pipelines)
    <pipeline>/tokenizer/vocab.json (+ tokenizer_config.json)
    <pipeline>/text_encoder_2/model.onnx, tokenizer_2/   (SDXL: see conditions.py)
    <pipeline>/metrics/classifier.onnx, real_features_mean.npy, real_features_cov.npy, metric.json
"""
import json
import os
import re
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch


class PipelineError(Exception):
    """A user-facing problem with a pipeline folder or model argument (names the path)."""


def _read_json(path: str) -> Dict:
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise PipelineError(f"{path}: not valid JSON ({e})") from e


def denoiser_folder(root: str) -> str:
    """The folder of a pipeline's denoiser, decided as the extension's layout.ts denoiserFolderName decides it:
    "transformer" when model_index.json names a transformer (diffusers' DiT/PixArt/SD3 exports) or only
    transformer/model.onnx is there, else "unet"."""
    if not os.path.isfile(os.path.join(root, "transformer", "model.onnx")):
        return "unet"
    if not os.path.isfile(os.path.join(root, "unet", "model.onnx")):
        return "transformer"
    try:
        with open(os.path.join(root, "model_index.json")) as f:
            index = json.load(f)
    except (OSError, json.JSONDecodeError):
        return "unet"
    named = lambda k: isinstance(index.get(k), list) and bool(index[k]) and index[k][0] is not None
    return "transformer" if named("transformer") and not named("unet") else "unet"


def resolve_unet(path: str) -> Tuple[str, Optional[str]]:
    """A U-Net argument -> (unet .onnx file, pipeline root or None).

    Accepts a pipeline folder (uses unet/model.onnx), a folder holding model.onnx, or an .onnx file; for a file
    the pipeline is the folder above the file's folder when that has model_index.json or scheduler/."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        denoiser = os.path.join(path, denoiser_folder(path), "model.onnx")
        if os.path.isfile(denoiser):
            return denoiser, path
        if os.path.isfile(os.path.join(path, "model.onnx")):
            path = os.path.join(path, "model.onnx")
        else:
            raise PipelineError(f"{path}: neither unet/model.onnx nor model.onnx is in this folder")
    if not os.path.isfile(path):
        raise PipelineError(f"{path}: no such file")
    if not path.endswith(".onnx"):
        raise PipelineError(f"{path}: expected an .onnx file or a pipeline folder")
    root = os.path.dirname(os.path.dirname(path))
    if os.path.isfile(os.path.join(root, "model_index.json")) or \
            os.path.isfile(os.path.join(root, "scheduler", "scheduler_config.json")):
        return path, root
    return path, None


class WordTokenizer:
    """The word-level tokenizer of tokenizer/tokenizer_config.json ("type": "word-level"): lower-case, characters
    other than a-z, 0-9, '<', '>' become spaces, split on whitespace, [bos] ids [eos], padded with pad_token."""

    def __init__(self, vocab: Dict[str, int], config: Dict):
        self.vocab = vocab
        self.max_length = int(config.get("model_max_length", 77))
        self.bos = vocab[config.get("bos_token", "<start>")]
        self.eos = vocab[config.get("eos_token", "<end>")]
        self.pad = vocab[config.get("pad_token", "<pad>")]
        self.unk = vocab.get(config.get("unk_token", "<unk>"), self.pad)

    def encode(self, prompt: str) -> List[int]:
        words = [w for w in re.sub(r"[^a-z0-9<>\s]", " ", prompt.lower()).split() if w]
        ids = [self.vocab.get(w, self.unk) for w in words][: self.max_length - 2]
        ids = [self.bos] + ids + [self.eos]
        return ids + [self.pad] * (self.max_length - len(ids))


class Pipeline:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        index_path = os.path.join(self.root, "model_index.json")
        self.index = _read_json(index_path) if os.path.isfile(index_path) else {}
        self.ld = self.index.get("ld_surgeon", {}) if isinstance(self.index.get("ld_surgeon"), dict) else {}
        sched = os.path.join(self.root, "scheduler", "scheduler_config.json")
        self.scheduler_config_path = sched if os.path.isfile(sched) else None
        self._tokenizers: Dict[str, Optional[WordTokenizer]] = {}

    # ------------------------------------------------------------------------------------------- files

    def file(self, *parts) -> Optional[str]:
        p = os.path.join(self.root, *parts)
        return p if os.path.isfile(p) else None

    @property
    def unet(self) -> Optional[str]:
        return self.file(denoiser_folder(self.root), "model.onnx")

    @property
    def vae_decoder(self) -> Optional[str]:
        return self.file("vae_decoder", "model.onnx")

    @property
    def vae_encoder(self) -> Optional[str]:
        return self.file("vae_encoder", "model.onnx")

    @property
    def text_encoder(self) -> Optional[str]:
        return self.file("text_encoder", "model.onnx")

    def scheduler_config(self) -> Dict:
        if not self.scheduler_config_path:
            raise PipelineError(f"{self.root}: scheduler/scheduler_config.json is missing (the noise schedule "
                                f"is needed for distillation)")
        return _read_json(self.scheduler_config_path)

    # --------------------------------------------------------------------------------------- properties

    def scaling_factor(self) -> float:
        if "latent_scaling_factor" in self.ld:
            return float(self.ld["latent_scaling_factor"])
        for part in ("vae_decoder", "vae_encoder", "vae"):
            cfg = self.file(part, "config.json")
            if cfg:
                c = _read_json(cfg)
                if "scaling_factor" in c:
                    return float(c["scaling_factor"])
        return 0.18215  # Stable Diffusion 1.x

    def guidance_scale(self) -> float:
        return float(self.ld.get("guidance_scale", 1.0))

    def latent_shape(self, unet_dims: Optional[List]) -> List[int]:
        if "latent_shape" in self.ld:
            return [int(v) for v in self.ld["latent_shape"]]
        if unet_dims and all(isinstance(d, int) and d > 0 for d in unet_dims[1:]):
            return [int(d) for d in unet_dims[1:]]
        raise PipelineError(f"{self.root}: the latent shape is unknown (model_index.json has no "
                            f"ld_surgeon.latent_shape and the U-Net's sample input has symbolic dims)")

    def tokenizer(self, folder: str = "tokenizer") -> Optional[WordTokenizer]:
        """The word-level tokenizer in `folder` (tokenizer_2 is SDXL's second), None for any other kind."""
        if folder not in self._tokenizers:
            self._tokenizers[folder] = None
            vocab_path = self.file(folder, "vocab.json")
            cfg_path = self.file(folder, "tokenizer_config.json")
            if vocab_path and cfg_path:
                cfg = _read_json(cfg_path)
                if cfg.get("type") == "word-level" or cfg.get("tokenizer_class") == "WordLevelTokenizer":
                    self._tokenizers[folder] = WordTokenizer(_read_json(vocab_path), cfg)
        return self._tokenizers[folder]

    def vocab_size_and_ids(self) -> Optional[Dict]:
        """Special ids and vocabulary size of any tokenizer/vocab.json (BPE ones included)."""
        vocab_path = self.file("tokenizer", "vocab.json")
        if not vocab_path:
            return None
        vocab = _read_json(vocab_path)
        cfg = _read_json(self.file("tokenizer", "tokenizer_config.json")) \
            if self.file("tokenizer", "tokenizer_config.json") else {}

        def tok(key, default):
            v = cfg.get(key, default)
            if isinstance(v, dict):
                v = v.get("content", default)
            return vocab.get(v)
        return {"size": len(vocab), "bos": tok("bos_token", "<|startoftext|>"), "eos": tok("eos_token", "<|endoftext|>"),
                "pad": tok("pad_token", "<|endoftext|>"), "max_length": int(cfg.get("model_max_length", 77))}

    def prompts(self) -> Optional[Tuple[str, List[str]]]:
        """(template with {word}, words) when the pipeline describes its class prompts."""
        t, words = self.ld.get("prompt_template"), self.ld.get("prompt_words")
        if isinstance(t, str) and isinstance(words, list) and words:
            return t, [str(w) for w in words]
        return None

    def negative_prompt(self) -> str:
        return str(self.ld.get("negative_prompt", ""))

    def metric_spec(self) -> Optional[Dict]:
        path = self.file("metrics", "metric.json")
        if not path or not self.file("metrics", "classifier.onnx"):
            return None
        spec = _read_json(path)
        spec["_dir"] = os.path.dirname(path)
        return spec

    def mel_params(self) -> Optional[Dict]:
        """An audio pipeline's feature recipe (ld_surgeon.mel_params: a JSON file in the pipeline folder)."""
        name = self.ld.get("mel_params")
        if not name:
            return None
        root = os.path.realpath(self.root)
        path = os.path.realpath(os.path.join(root, str(name)))
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            raise PipelineError(f"{os.path.join(self.root, 'model_index.json')}: ld_surgeon.mel_params '{name}' is not "
                                f"a file inside the pipeline folder")
        return _read_json(path)

    def data_shape(self) -> Optional[List[int]]:
        v = self.ld.get("data_shape")
        return [int(x) for x in v] if v else None


def load_npy(path: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:
        raise PipelineError(f"{path}: not a readable .npy array ({e})") from e


def as_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))
