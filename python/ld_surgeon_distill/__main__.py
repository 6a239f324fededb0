"""python -m ld_surgeon_distill --student PRUNED --teacher ORIGINAL [options]   (see --help)
python -m ld_surgeon_distill --check   (one JSON line describing the environment)"""
import argparse
import sys

from .settings import DEFAULTS


def parse(argv):
    d = DEFAULTS
    p = argparse.ArgumentParser(
        prog="python -m ld_surgeon_distill",
        description="Fine-tune a pruned diffusion U-Net (student) against the original (teacher) with BK-SDM "
                    "knowledge distillation. Progress: one JSON object per line on stdout.")
    p.add_argument("--check", action="store_true", help="print the environment as one JSON line and exit")
    p.add_argument("--student", help="pruned U-Net: a pipeline folder or an .onnx file")
    p.add_argument("--teacher", help="original U-Net (default: unet/model.onnx of the student's pipeline)")
    p.add_argument("--data", help="folder of training images/arrays (default: data-free, teacher samples)")
    p.add_argument("--conditions", help="precomputed encoder_hidden_states [N, L, D] (.npy) for conditional U-Nets")
    p.add_argument("--text-embeds", dest="text_embeds",
                   help="SDXL U-Nets with --conditions: the pooled text_embeds [N, P] (.npy) of the same rows")
    p.add_argument("--run-dir", help="run folder (default: <student>.distill-runs/<timestamp>/)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint")
    p.add_argument("--output", help="distilled model path (default: <student>.distilled.onnx)")
    p.add_argument("--no-export", dest="export", action="store_const", const=False, default=None,
                   help="do not export the best student")
    num = [("steps", int, "optimizer steps"), ("batch_size", int, "samples per process and micro-step"),
           ("grad_accum", int, "micro-steps per optimizer step"), ("lr", float, "AdamW peak learning rate (BK-SDM at SD scale: 5e-5)"),
           ("weight_decay", float, "AdamW weight decay"), ("adam_beta1", float, None), ("adam_beta2", float, None),
           ("max_grad_norm", float, "gradient clipping (0: off)"), ("warmup_steps", int, "linear LR warm-up"),
           ("lambda_task", float, "weight of MSE(target, student); BK-SDM: 1, worth it with --data"), ("lambda_out", float, "weight of MSE(teacher, student)"),
           ("lambda_feat", float, "weight of the stage feature MSEs"), ("ema_decay", float, "EMA of weights (0: off)"),
           ("seed", int, None), ("data_samples", int, "data-free: latents the teacher generates"),
           ("data_steps", int, "data-free: DDIM steps per generated latent"),
           ("guidance", float, "classifier-free guidance scale (default: the pipeline's)"),
           ("uncond_prob", float, "probability of training on the unconditional embedding (default 0.1 with guidance)"),
           ("eval_every", int, "steps between evaluations (0: only at the end)"), ("eval_samples", int, None),
           ("eval_steps", int, "DDIM steps when sampling for evaluation"),
           ("checkpoint_every", int, "steps between checkpoints (0: only at the end)"),
           ("keep_checkpoints", int, "checkpoints kept (0: all)"), ("log_every", int, "steps between step events"),
           ("threads", int, "torch CPU threads"), ("sample_batch", int, "batch size when sampling")]
    for name, typ, helptext in num:
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None,
                       help=(helptext + f" (default {d[name]})") if helptext else f"default {d[name]}")
    p.add_argument("--no-fused-attention", dest="fused_attention", action="store_const", const=False, default=None,
                   help="run attention node by node as exported instead of as one fused step (torch >= 2.1: "
                        "scaled_dot_product_attention, far less GPU memory at SD scale)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None, help="default auto")
    p.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16"], default=None,
                   help="autocast on CUDA (auto: bf16 where supported, else fp16); CPU always runs fp32")
    p.add_argument("--select-by", default=None,
                   help="which evaluated student is exported: the lowest value of a metric (FID, FAD, latent_score), "
                        "the highest class_accuracy, or 'last' (default: the pipeline's metric)")
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default=None,
                   help=f"LR after the warm-up (default {d['lr_schedule']})")
    p.add_argument("--feat-norm", choices=["none", "teacher"], default=None,
                   help="stage feature loss: plain MSE (BK-SDM) or MSE relative to the teacher feature's mean square "
                        f"(LAPTOP-Diff) (default {d['feat_norm']})")
    p.add_argument("--feature-scopes", default=None,
                   help="comma-separated module scopes for feature distillation (default: down/mid/up stages)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.check:
        from .envcheck import main as check
        return check()
    from .train import main_train
    return main_train(vars(args))


if __name__ == "__main__":
    sys.exit(main())
