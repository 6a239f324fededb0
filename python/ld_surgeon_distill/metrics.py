"""Evaluation: sample with a U-Net through the pipeline and score the result.

With metrics/ (classifier.onnx, real_features_mean.npy, real_features_cov.npy, metric.json): decode the final
latents (latents / scaling factor -> vae_decoder -> clip to [-1, 1]), take the classifier's 'features' and
'logits', and report the Frechet distance to the real statistics (named as metric.json's "metric": FID / FAD;
covariance with N-1 normalisation) and, for class-prompted pipelines, the class accuracy.
Always, when the teacher's latents for the same seeds are known: the latent score
||mean(L_teacher) - mean(L)||_2 + ||std(L_teacher) - std(L)||_2 (means/stds over samples, population std), the
LD-Pruner score, which is the primary metric where no classifier exists. Lower is better except accuracy.
"""
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from .conditions import Conditioner, cat_conds
from .data import generator
from .onnx_import import OnnxModule
from .pipeline import Pipeline, PipelineError, load_npy
from .sampler import NoiseSchedule, sample


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)). Tr((C1 C2)^(1/2)) is computed as the sum of square roots of
    the eigenvalues of the symmetric C1^(1/2) C2 C1^(1/2) (same spectrum), which stays real and stable for
    singular covariances (few samples)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    w, v = np.linalg.eigh((cov1 + cov1.T) / 2)
    s1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = s1 @ cov2 @ s1
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    tr_sqrt = float(np.sqrt(np.clip(ev, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * tr_sqrt)


def latent_score(ref: torch.Tensor, lat: torch.Tensor) -> float:
    r, l = ref.double().flatten(1), lat.double().flatten(1)
    return float((r.mean(0) - l.mean(0)).norm() + (r.std(0, unbiased=False) - l.std(0, unbiased=False)).norm())


UnetFn = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


class Evaluator:
    def __init__(self, pipeline: Optional[Pipeline], schedule: NoiseSchedule, conditioner: Optional[Conditioner],
                 latent_shape: List[int], n: int, steps: int, guidance: float, seed: int, device: torch.device,
                 timestep_dtype=torch.float32, batch: int = 64, x_T: Optional[torch.Tensor] = None):
        self.schedule, self.steps, self.guidance, self.device = schedule, steps, guidance, device
        self.timestep_dtype, self.batch = timestep_dtype, batch
        self.x_T = x_T if x_T is not None else torch.randn([n] + list(latent_shape), generator=generator(seed, "eval"))
        n = self.x_T.shape[0]
        self.labels = None
        self.cond = self.uncond = None
        if conditioner is not None:
            if conditioner.num_classes:
                self.labels = torch.arange(n) % conditioner.num_classes
                self.cond = cat_conds([conditioner.for_labels(self.labels[s:s + 256].tolist()).cpu()
                                       for s in range(0, n, 256)])
            else:
                self.cond = conditioner.sample([generator(seed, "eval-cond", i) for i in range(n)])[0].cpu()
            if guidance != 1.0:
                u = conditioner.uncond(1)
                self.uncond = u.cpu().expand(n, *u.shape[1:]) if u is not None else None
        self.reference: Optional[torch.Tensor] = None
        self.metric_name = None
        self.decoder = self.classifier = None
        self.scaling = pipeline.scaling_factor() if pipeline else 1.0
        spec = pipeline.metric_spec() if pipeline else None
        if spec is not None and pipeline.vae_decoder:
            import os
            d = spec["_dir"]
            self.metric_name = str(spec.get("metric", "FID"))
            self.decoder = OnnxModule(pipeline.vae_decoder, trainable=False).to(device).eval()
            self.classifier = OnnxModule(os.path.join(d, spec.get("classifier", "classifier.onnx")),
                                         trainable=False).to(device).eval()
            self.mu_r = load_npy(os.path.join(d, spec.get("real_features_mean", "real_features_mean.npy")))
            self.cov_r = load_npy(os.path.join(d, spec.get("real_features_cov", "real_features_cov.npy")))
            outs = self.classifier.output_names
            self.features_name = "features" if "features" in outs else outs[-1]
            self.logits_name = "logits" if "logits" in outs else outs[0]
            lo_hi = spec.get("classifier_input", {}).get("value_range", [-1, 1])
            self.clip = (float(lo_hi[0]), float(lo_hi[1]))

    @property
    def primary(self) -> str:
        return self.metric_name or "latent_score"

    @torch.no_grad()
    def latents(self, unet: UnetFn) -> torch.Tensor:
        dev = self.device
        return sample(unet, self.schedule, self.x_T.to(dev), self.steps,
                      None if self.cond is None else self.cond.to(dev),
                      None if self.uncond is None else self.uncond.to(dev), self.guidance,
                      timestep_dtype=self.timestep_dtype, chunk=self.batch).float().cpu()

    def set_reference(self, unet: UnetFn):
        self.reference = self.latents(unet)

    @torch.no_grad()
    def evaluate(self, unet: UnetFn) -> Dict[str, float]:
        lat = self.latents(unet)
        m: Dict[str, float] = {}
        if not torch.isfinite(lat).all():
            m["non_finite_latents"] = 1.0
            lat = torch.nan_to_num(lat, nan=0.0, posinf=1e4, neginf=-1e4)
        if self.reference is not None:
            m["latent_score"] = latent_score(self.reference, lat)
        if self.classifier is not None:
            feats, logits = [], []
            for s in range(0, len(lat), 256):
                z = lat[s:s + 256].to(self.device) / self.scaling
                img = self.decoder.run({self.decoder.input_names[0]: z})[self.decoder.output_names[0]]
                img = img.float().clamp(*self.clip)
                out = self.classifier.run({self.classifier.input_names[0]: img})
                feats.append(out[self.features_name].double().cpu().flatten(1))
                logits.append(out[self.logits_name].double().cpu())
            f = torch.cat(feats).numpy()
            m[self.metric_name] = frechet_distance(f.mean(0), np.cov(f, rowvar=False), self.mu_r, self.cov_r)
            if self.labels is not None:
                pred = torch.cat(logits).argmax(1)
                m["class_accuracy"] = float((pred == self.labels).double().mean())
        return m
