"""Exports a trained pipeline to examples/<name>/ in the exported Stable Diffusion ONNX layout,
evaluates it (samples, metrics) and writes model_index.json.

python3 export.py digits-cond|digits-uncond|audio-digits [--mode quick|full]"""
import json
import os
import shutil
import time

import numpy as np
import torch

from classifier import DigitClassifier, feature_stats, frechet_distance, predict
from data_digits import NUMBER_WORDS
from onnx_export import OPSET, export
from pipelines import DATASETS, EXAMPLES, PIPELINES, budget, ckpt, record, start_stage
from png import grid, write_png_gray
from scheduler import SD_SCHEDULER_CONFIG, Sampler, sample
from text_encoder import TextEncoder
from tokenizer import WordTokenizer
from unet import UNet2DConditionModel, count_parameters
from vae import AutoencoderKL

EVAL_STEPS = 25          # DDIM steps for the reference metrics
ZEROED_BLOCKS = ["up_blocks.1.resnets.0", "mid_block.attentions.0"]


class VAEEncoderOnnx(AutoencoderKL):
    """sample -> latent_sample = posterior mean (unscaled). Subclass so node scopes read /encoder/..."""

    def forward(self, sample):
        return self.encode_moments(sample)[0]


class VAEDecoderOnnx(AutoencoderKL):
    """latent_sample (unscaled: U-Net latents / scaling_factor) -> sample."""

    def forward(self, latent_sample):
        return self.decode(latent_sample)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def save_npy(path, arr):
    np.save(path, np.ascontiguousarray(arr, dtype="<f8"), allow_pickle=False)


def load_models(name):
    spec = PIPELINES[name]
    ds = spec["dataset"]
    vck = torch.load(ckpt(f"{ds}_vae.pt"))
    uck = torch.load(ckpt(f"{name}_unet.pt"))
    cck = torch.load(ckpt(f"{ds}_classifier.pt"))
    unet = UNet2DConditionModel(spec["unet"])
    unet.load_state_dict(uck["unet"])
    unet.eval()
    text = None
    if spec["conditional"]:
        tok = WordTokenizer()
        text = TextEncoder(len(tok.vocab), tok.max_length, spec["unet"].cross_attention_dim)
        text.load_state_dict(uck["text_encoder"])
        text.eval()
    clf = DigitClassifier()
    clf.load_state_dict(cck["state"])
    clf.eval()
    return spec, vck, uck, cck, unet, text, clf


def zeroed(unet, module_name):
    z = UNet2DConditionModel(unet.config)
    z.load_state_dict(unet.state_dict())
    with torch.no_grad():
        for p in z.get_submodule(module_name).parameters():
            p.zero_()
    return z.eval()


def generate(unet, vae, scale, spec, n, seed, text=None, labels=None, steps=EVAL_STEPS):
    """DDIM (eta 0) samples decoded to data space, clipped to [-1, 1]; returns (images, latents)."""
    g = torch.Generator().manual_seed(seed)
    shape = (n,) + tuple(DATASETS[spec["dataset"]]["latent_shape"])
    x_T = torch.randn(shape, generator=g)
    cond = uncond = None
    if text is not None:
        tok = WordTokenizer()
        with torch.no_grad():
            cond = text(torch.tensor([tok.encode(f"a digit {NUMBER_WORDS[int(k)]}") for k in labels]))
            uncond = text(torch.tensor([tok.encode("")] * n))
    lat = sample(unet, x_T, Sampler("ddim", steps), cond, uncond, spec.get("guidance_scale", 1.0))
    with torch.no_grad():
        img = torch.cat([vae.decode(lat[s:s + 256] / scale) for s in range(0, n, 256)]).clamp(-1, 1)
    return img.numpy(), lat.numpy()


def evaluate(images, clf, mu_r, cov_r, labels=None):
    logits, feats = predict(clf, images)
    mu, cov = feature_stats(feats)
    out = {"frechet": frechet_distance(mu, cov, mu_r, cov_r), "n": len(images)}
    pred = logits.argmax(1)
    if labels is not None:
        out["class_accuracy"] = float((pred == labels).mean())
    hist = np.bincount(pred, minlength=10) / len(pred)
    out["predicted_class_histogram"] = [round(float(h), 4) for h in hist]
    out["predicted_class_entropy_bits"] = float(-(hist[hist > 0] * np.log2(hist[hist > 0])).sum())
    p = np.exp(logits - logits.max(1, keepdims=True))
    out["mean_max_softmax"] = float((p.max(1) / p.sum(1)).mean())
    return out


def main():
    args, t0 = start_stage("pipeline", PIPELINES, seed=None)
    name = args.pipeline
    spec, vck, uck, cck, unet, text, clf = load_models(name)
    ds = spec["dataset"]
    dcfg = DATASETS[ds]
    vcfg = dcfg["vae"]
    scale = vck["scaling_factor"]
    out = os.path.join(EXAMPLES, name)
    tmp_out = out + ".tmp"
    shutil.rmtree(tmp_out, ignore_errors=True)
    os.makedirs(tmp_out)
    C, H, W = dcfg["latent_shape"]
    cfg = spec["unet"]

    # --- models
    export(unet, (torch.randn(2, C, H, W), torch.tensor([999.0, 1.0])) +
           ((torch.randn(2, 8, cfg.cross_attention_dim),) if text is not None else ()),
           os.path.join(tmp_out, "unet", "model.onnx"),
           ["sample", "timestep"] + (["encoder_hidden_states"] if text is not None else []), ["out_sample"])
    write_json(os.path.join(tmp_out, "unet", "config.json"), {**cfg.to_json_dict(), "timestep_dtype": "float32"})
    enc, dec = VAEEncoderOnnx(vcfg), VAEDecoderOnnx(vcfg)
    enc.load_state_dict(vck["state"])
    dec.load_state_dict(vck["state"])
    S = vcfg.sample_size
    export(enc, (torch.randn(2, vcfg.in_channels, S, S),), os.path.join(tmp_out, "vae_encoder", "model.onnx"),
           ["sample"], ["latent_sample"])
    export(dec, (torch.randn(2, C, H, W),), os.path.join(tmp_out, "vae_decoder", "model.onnx"),
           ["latent_sample"], ["sample"])
    vjson = vcfg.to_json_dict(scale)
    write_json(os.path.join(tmp_out, "vae_encoder", "config.json"),
               {**vjson, "output": "latent_sample = posterior mean, unscaled; multiply by scaling_factor for the U-Net"})
    write_json(os.path.join(tmp_out, "vae_decoder", "config.json"),
               {**vjson, "input": "latent_sample = U-Net latents divided by scaling_factor"})
    tok = WordTokenizer()
    if text is not None:
        export(text, (torch.tensor([tok.encode("a digit seven"), tok.encode("")]),),
               os.path.join(tmp_out, "text_encoder", "model.onnx"), ["input_ids"], ["last_hidden_state"])
        write_json(os.path.join(tmp_out, "text_encoder", "config.json"),
                   {"_class_name": "WordEmbeddingTextEncoder", "vocab_size": len(tok.vocab),
                    "max_position_embeddings": tok.max_length, "hidden_size": cfg.cross_attention_dim})
        tok.save(os.path.join(tmp_out, "tokenizer"))
    write_json(os.path.join(tmp_out, "scheduler", "scheduler_config.json"),
               {"_class_name": "DDIMScheduler", "_diffusers_version": "0.21.0", **SD_SCHEDULER_CONFIG})

    # --- metric classifier and real-data statistics
    mdir = os.path.join(tmp_out, "metrics")
    export(clf, (torch.randn(2, 1, S, S),), os.path.join(mdir, "classifier.onnx"), ["input"], ["logits", "features"])
    mu_r, cov_r = cck["mu"], cck["cov"]
    save_npy(os.path.join(mdir, "real_features_mean.npy"), mu_r)
    save_npy(os.path.join(mdir, "real_features_cov.npy"), cov_r)

    # --- evaluation
    vae = AutoencoderKL(vcfg)
    vae.load_state_dict(vck["state"])
    vae.eval()
    n = budget(args.mode, "eval_samples", None)
    labels = np.arange(n) % 10
    results = {"sampler": f"DDIM, {EVAL_STEPS} steps, eta 0" + (f", guidance {spec['guidance_scale']}, prompt 'a digit <word>'" if text else ""),
               "real_test_split_vs_reference": cck["fd_test_vs_all"], "classifier_test_accuracy": cck["test_accuracy"]}
    imgs, _ = generate(unet, vae, scale, spec, n, seed=1234, text=text, labels=labels)
    results["generated"] = evaluate(imgs, clf, mu_r, cov_r, labels if text else None)
    g = torch.Generator().manual_seed(1234)
    noise_lat = torch.randn((n, C, H, W), generator=g)
    with torch.no_grad():
        noise_imgs = torch.cat([vae.decode(noise_lat[s:s + 256] / scale) for s in range(0, n, 256)]).clamp(-1, 1).numpy()
    results["noise_decoded"] = evaluate(noise_imgs, clf, mu_r, cov_r, labels if text else None)
    for block in ZEROED_BLOCKS:
        zimgs, _ = generate(zeroed(unet, block), vae, scale, spec, n, seed=1234, text=text, labels=labels)
        results[f"zeroed:{block}"] = evaluate(zimgs, clf, mu_r, cov_r, labels if text else None)
    for k, v in results.items():
        print(k, v, flush=True)

    # --- pictures (and a sound)
    if ds == "digits":
        order = np.argsort(labels, kind="stable") if text is not None else np.arange(n)
        if text is not None:  # 10 rows: digit k in row k
            sel = np.concatenate([np.nonzero(labels == k)[0][:10] for k in range(10)])
            write_png_gray(os.path.join(tmp_out, "samples.png"), grid(imgs[sel], 10, 10, scale=2))
        else:
            write_png_gray(os.path.join(tmp_out, "samples.png"), grid(imgs[order[:100]], 10, 10, scale=2))
    else:
        from mel import MEL_PARAMS, griffin_lim, save_params, write_wav
        write_png_gray(os.path.join(tmp_out, "samples.png"), grid(imgs[:32], 4, 8, scale=2, flip_vertical=True))
        save_params(os.path.join(tmp_out, "mel_params.json"))
        np.save(os.path.join(tmp_out, "sample_mel.npy"), imgs[0].astype("<f4"))
        write_wav(os.path.join(tmp_out, "sample.wav"), griffin_lim(imgs[0]), MEL_PARAMS["sample_rate"])

    # --- metric description and model_index
    metric_name = dcfg["metric"]
    metric = {
        "metric": metric_name,
        "definition": "Frechet distance between Gaussians fitted to classifier 'features' of generated and of real samples: "
                      "||mu_g - mu_r||^2 + Tr(C_g + C_r - 2 (C_g C_r)^(1/2)); covariance with N-1 normalisation",
        "note": "features come from the small classifier below, not Inception/VGGish: numbers are comparable only within this pipeline"
                if metric_name == "FID" else
                "FAD-style: features come from the small spoken-digit classifier below, not VGGish; comparable only within this pipeline",
        "classifier": "classifier.onnx",
        "classifier_input": {"name": "input", "shape": [None, 1, S, S], "dtype": "float32",
                             "from_vae_decoder": "take vae_decoder output 'sample' as is and clip to [-1, 1]; no other normalisation",
                             "value_range": [-1, 1],
                             "meaning": "grayscale digit, -1 background, +1 ink" if ds == "digits"
                             else "log-mel spectrogram, see ../mel_params.json (row 0 = lowest mel bin)"},
        "classifier_outputs": {"logits": "[B, 10], class k = digit k", "features": "[B, 64], penultimate layer after ReLU"},
        "real_features_mean": "real_features_mean.npy", "real_features_cov": "real_features_cov.npy",
        "real_reference": {"n_real": cck["n_real"], "classifier_test_accuracy": cck["test_accuracy"],
                           "frechet_test_split_vs_reference": cck["fd_test_vs_all"],
                           "frechet_test_split_vs_train_split": cck["fd_test_vs_train"], "n_test": cck["n_test"]},
        "python_reference_results": results,
    }
    write_json(os.path.join(mdir, "metric.json"), metric)
    comp = ["diffusers", "OnnxRuntimeModel"]
    index = {
        "_class_name": "OnnxStableDiffusionPipeline" if text is not None else "OnnxLDMPipeline",
        "_diffusers_version": "0.21.0",
        "scheduler": ["diffusers", "DDIMScheduler"],
        "unet": comp, "vae_decoder": comp, "vae_encoder": comp,
        "text_encoder": comp if text is not None else [None, None],
        "tokenizer": ["ld_surgeon", "WordLevelTokenizer"] if text is not None else [None, None],
        "safety_checker": [None, None], "feature_extractor": [None, None], "requires_safety_checker": False,
        "ld_surgeon": {
            "task": spec["task"],
            "latent_shape": [C, H, W],
            "latent_scaling_factor": scale,
            "unet_inputs": {"sample": ["batch", C, H, W], "timestep": {"dtype": "float32", "shape": ["batch"]},
                            **({"encoder_hidden_states": ["batch", tok.max_length, cfg.cross_attention_dim]} if text is not None else {})},
            "unet_output": "out_sample (predicted noise, epsilon)",
            "data_shape": [vcfg.in_channels, S, S],
            "data_value_range": [-1, 1],
            **({"guidance_scale": spec["guidance_scale"], "prompt_template": "a digit {word}",
                "prompt_words": NUMBER_WORDS, "negative_prompt": ""} if text is not None else {}),
            **({"mel_params": "mel_params.json", "example_audio": "sample.wav"} if ds == "audio" else {}),
            "samples_png": "samples.png",
            "metric": {"name": metric_name, "description": "metrics/metric.json", "classifier": "metrics/classifier.onnx",
                       "real_features_mean": "metrics/real_features_mean.npy", "real_features_cov": "metrics/real_features_cov.npy"},
            "results": {k: ({kk: vv for kk, vv in v.items() if kk in ("frechet", "class_accuracy", "predicted_class_entropy_bits", "n")}
                            if isinstance(v, dict) else v) for k, v in results.items()},
            "parameters": {"unet": count_parameters(unet), "vae_encoder": count_parameters(vae.encoder) + count_parameters(vae.quant_conv),
                           "vae_decoder": count_parameters(vae.decoder) + count_parameters(vae.post_quant_conv),
                           **({"text_encoder": count_parameters(text)} if text is not None else {})},
            "training": {"mode": args.mode, "unet_steps": uck["steps"], "scripts": "training/ (training/build_all.sh)"},
            "opset": OPSET,
        },
    }
    write_json(os.path.join(tmp_out, "model_index.json"), index)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp_out, out)
    record(f"export:{name}", time.time() - t0, {"results": results, "mode": args.mode,
                                                "parameters": index["ld_surgeon"]["parameters"]})
    print(f"wrote {out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
