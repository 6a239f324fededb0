"""Small CNN classifiers used as the feature extractor for FID / FAD-style metrics.

forward(x) -> (logits [B,10], features [B,64]); features are the penultimate layer (after ReLU)."""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FEATURE_DIM = 64


class DigitClassifier(nn.Module):
    def __init__(self, in_channels=1, num_classes=10, width=16):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.fc = nn.Linear(4 * w * 16, FEATURE_DIM)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x):
        features = F.relu(self.fc(self.body(x)))
        return self.head(self.dropout(features)), features


@torch.no_grad()
def predict(model, x, batch=512):
    model.eval()
    logits, feats = [], []
    for s in range(0, len(x), batch):
        l, f = model(torch.as_tensor(x[s:s + batch]).float())
        logits.append(l)
        feats.append(f)
    return torch.cat(logits).numpy().astype(np.float64), torch.cat(feats).numpy().astype(np.float64)


def frechet_distance(mu1, cov1, mu2, cov2):
    """||mu1-mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)), the FID formula (via scipy's sqrtm)."""
    from scipy import linalg

    covmean, _ = linalg.sqrtm(cov1 @ cov2, disp=False)
    if not np.isfinite(covmean).all():
        eps = np.eye(cov1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((cov1 + eps) @ (cov2 + eps))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean))


def feature_stats(features):
    return features.mean(axis=0), np.cov(features, rowvar=False)
