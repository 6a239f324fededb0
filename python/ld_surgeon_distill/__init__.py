"""ld-surgeon's distillation trainer: ONNX U-Nets imported into PyTorch, BK-SDM-style knowledge distillation."""
__version__ = "0.1.0"
