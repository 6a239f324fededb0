"""Small diffusers-layout pipelines built on the fly (random weights) for tests that need no trained model, and
running the trainer's command line."""
import json
import os
import subprocess
import sys

import torch
from torch import nn

from ld_surgeon_distill.export import write_model_atomic
from ld_surgeon_distill.graph_edit import bypass_scope

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# what a child `python -m ld_surgeon_distill` needs to find the package
ENV = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
sys.path.insert(0, os.path.join(REPO, "training"))

from unet import UNet2DConditionModel, UNetConfig, UnconditionalUNet  # noqa: E402  (the examples' own U-Net code)

import onnx  # noqa: E402

SCHEDULER = {"_class_name": "DDIMScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
             "beta_schedule": "scaled_linear", "prediction_type": "epsilon", "clip_sample": False,
             "set_alpha_to_one": False, "steps_offset": 1, "timestep_spacing": "leading"}
WORDS = ["zero", "one", "two", "three"]
VOCAB = {w: i for i, w in enumerate(["<pad>", "<start>", "<end>", "<unk>", "a", "digit"] + WORDS)}


def tiny_config(conditional=True):
    return UNetConfig(sample_size=8, block_out_channels=(16, 32), layers_per_block=1,
                      down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                      up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
                      cross_attention_dim=16 if conditional else None, attention_head_dim=2, norm_num_groups=8)


class TinyTextEncoder(nn.Module):
    def __init__(self, vocab, length, dim):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        self.position_embedding = nn.Embedding(length, dim)
        self.final_layer_norm = nn.LayerNorm(dim)

    def forward(self, input_ids):
        pos = torch.arange(input_ids.shape[1])
        return self.final_layer_norm(self.token_embedding(input_ids) + self.position_embedding(pos)[None])


def _export(module, args, path, inputs, outputs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, opset_version=17,
                          dynamic_axes={n: {0: "batch"} for n in inputs + outputs}, do_constant_folding=True)


def _json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


class TinyVaeEncoder(nn.Module):
    """[B, 1, 32, 32] in [-1, 1] -> [B, 4, 8, 8] (unscaled latent)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 4, stride=4)

    def forward(self, sample):
        return self.conv(sample)


def build_pipeline(root, conditional=True, seed=0, vae_encoder=False):
    """Writes a pipeline folder; returns the torch U-Net (for reference outputs)."""
    torch.manual_seed(seed)
    cfg = tiny_config(conditional)
    unet = UNet2DConditionModel(cfg).eval()
    x = torch.randn(2, 4, 8, 8)
    t = torch.tensor([999.0, 1.0])
    if conditional:
        _export(unet, (x, t, torch.randn(2, 6, 16)), os.path.join(root, "unet", "model.onnx"),
                ["sample", "timestep", "encoder_hidden_states"], ["out_sample"])
        text = TinyTextEncoder(len(VOCAB), 6, 16)
        _export(text, (torch.zeros(2, 6, dtype=torch.long),), os.path.join(root, "text_encoder", "model.onnx"),
                ["input_ids"], ["last_hidden_state"])
        _json(os.path.join(root, "tokenizer", "vocab.json"), VOCAB)
        _json(os.path.join(root, "tokenizer", "tokenizer_config.json"),
              {"type": "word-level", "model_max_length": 6, "pad_token": "<pad>", "bos_token": "<start>",
               "eos_token": "<end>", "unk_token": "<unk>"})
    else:
        _export(UnconditionalUNet(unet), (x, t), os.path.join(root, "unet", "model.onnx"),
                ["sample", "timestep"], ["out_sample"])
    if vae_encoder:
        _export(TinyVaeEncoder(), (torch.zeros(2, 1, 32, 32),), os.path.join(root, "vae_encoder", "model.onnx"),
                ["sample"], ["latent_sample"])
    _json(os.path.join(root, "scheduler", "scheduler_config.json"), SCHEDULER)
    ld = {"latent_shape": [4, 8, 8], "latent_scaling_factor": 1.0}
    if conditional:
        ld.update({"guidance_scale": 2.0, "prompt_template": "a digit {word}", "prompt_words": WORDS,
                   "negative_prompt": ""})
    _json(os.path.join(root, "model_index.json"), {"_class_name": "Test", "ld_surgeon": ld})
    return unet


def make_student(pipeline_root, scope="mid_block.attentions.0", name="model.pruned.onnx"):
    """The pipeline's U-Net with `scope` bypassed (all other weights kept): a stand-in for a pruned U-Net."""
    src = os.path.join(pipeline_root, "unet", "model.onnx")
    path = os.path.join(pipeline_root, "unet", name)
    write_model_atomic(bypass_scope(onnx.load(src), scope), path)
    return path


def events(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            out.append(json.loads(line))  # stdout carries nothing but JSON lines
    return out


def distill(*args, timeout=600):
    """Runs the trainer's command line; (exit code, its JSON events, its stderr)."""
    p = subprocess.run([sys.executable, "-m", "ld_surgeon_distill", *args], env=ENV, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, events(p.stdout), p.stderr
