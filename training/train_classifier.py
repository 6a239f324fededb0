"""Trains the metric classifier of a dataset: python3 train_classifier.py digits|audio [--mode]"""
import time

import torch
import torch.nn.functional as F

from classifier import DigitClassifier, feature_stats, frechet_distance, predict
from pipelines import DATASETS, budget, ckpt, load_data, record, start_stage


def main():
    args, t0 = start_stage("dataset", DATASETS)
    data = load_data(args.dataset)
    x, y = torch.from_numpy(data["train"]), torch.from_numpy(data["train_labels"])
    model = DigitClassifier()
    steps = budget(args.mode, "classifier", args.dataset)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    g = torch.Generator().manual_seed(2)
    model.train()
    for step in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        xb = x[idx]
        if args.dataset == "audio":  # time-shift augmentation (spectrogram columns)
            xb = torch.roll(xb, int(torch.randint(-4, 5, (1,), generator=g)), dims=3)
        loss = F.cross_entropy(model(xb)[0], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 200 == 0:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
    real, labels, te, tr = data["real"], data["labels"], data["test_idx"], data["train_idx"]
    logits, feats = predict(model, real)
    acc = float((logits[te].argmax(1) == labels[te]).mean())
    mu, cov = feature_stats(feats)
    fd_test = frechet_distance(*feature_stats(feats[te]), mu, cov)
    fd_train_test = frechet_distance(*feature_stats(feats[te]), *feature_stats(feats[tr]))
    print(f"test accuracy {acc:.4f}; Frechet(test split, all real) {fd_test:.3f}; Frechet(test, train) {fd_train_test:.3f}")
    torch.save({"state": model.state_dict(), "test_accuracy": acc, "fd_test_vs_all": fd_test,
                "fd_test_vs_train": fd_train_test, "mu": mu, "cov": cov, "n_real": len(real), "n_test": len(te)},
               ckpt(f"{args.dataset}_classifier.pt"))
    record(f"classifier:{args.dataset}", time.time() - t0, {"steps": steps, "test_accuracy": acc,
                                                            "frechet_test_vs_all_real": fd_test,
                                                            "frechet_test_vs_train": fd_train_test})


if __name__ == "__main__":
    main()
