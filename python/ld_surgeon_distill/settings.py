"""Run defaults, kept free of torch so `--check` and `--help` work where torch is missing.

The recipe is sized for a short run of a small pruned U-Net, not BK-SDM's SD-scale one (lr 5e-5, constant, plain
feature MSEs, task loss on): measured by bench/distill_recovery.py (bench/out/distill-ablation.json), that recipe
made the pruned digits students worse in 400 CPU steps, because the data-free task loss (noise targets, irreducible
error ~0.1) and the unnormalised feature MSEs outweigh the output match (~1e-3) that sampling depends on. So: output
+ normalised feature KD only (lambda_task 0; give it weight with --data of real samples), lr 1e-3 with a 20-step
warm-up and cosine decay to 0, batch 16."""

DEFAULTS = {
    "steps": 1000, "batch_size": 16, "grad_accum": 1, "lr": 1e-3, "weight_decay": 1e-2, "adam_beta1": 0.9,
    "adam_beta2": 0.999, "max_grad_norm": 1.0, "warmup_steps": 20, "lambda_task": 0.0, "lambda_out": 1.0,
    "lambda_feat": 1.0, "ema_decay": 0.0, "seed": 0, "data": None, "conditions": None, "text_embeds": None, "data_samples": 256,
    "data_steps": 25, "guidance": None, "uncond_prob": None, "eval_every": 200, "eval_samples": 64, "eval_steps": 10,
    "checkpoint_every": 200, "keep_checkpoints": 2, "log_every": 10, "device": "auto", "precision": "auto",
    "feature_scopes": None, "output": None, "export": True, "threads": None, "sample_batch": 32, "select_by": None,
    "fused_attention": True, "lr_schedule": "cosine", "feat_norm": "teacher",
}
# What a resumed run may change; everything else must stay as it was for the losses to continue exactly.
RESUME_OVERRIDABLE = {"steps", "eval_every", "checkpoint_every", "keep_checkpoints", "log_every", "output", "export",
                      "device"}

CANCEL_EXIT = 130
