"""Run defaults, kept free of torch so `--check` and `--help` work where torch is missing."""

DEFAULTS = {
    "steps": 1000, "batch_size": 8, "grad_accum": 1, "lr": 5e-5, "weight_decay": 1e-2, "adam_beta1": 0.9,
    "adam_beta2": 0.999, "max_grad_norm": 1.0, "warmup_steps": 0, "lambda_task": 1.0, "lambda_out": 1.0,
    "lambda_feat": 1.0, "ema_decay": 0.0, "seed": 0, "data": None, "conditions": None, "data_samples": 256,
    "data_steps": 25, "guidance": None, "uncond_prob": None, "eval_every": 200, "eval_samples": 64, "eval_steps": 10,
    "checkpoint_every": 200, "keep_checkpoints": 2, "log_every": 10, "device": "auto", "precision": "auto",
    "feature_scopes": None, "output": None, "export": True, "threads": None, "sample_batch": 32, "select_by": None,
    "fused_attention": True, "lr_schedule": "constant", "feat_norm": "none",
}
# What a resumed run may change; everything else must stay as it was for the losses to continue exactly.
RESUME_OVERRIDABLE = {"steps", "eval_every", "checkpoint_every", "keep_checkpoints", "log_every", "output", "export",
                      "device"}

CANCEL_EXIT = 130
