"""Which floating-point precision to train in on a device, and the autocast context for it."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

PRECISIONS = ("auto", "bf16", "fp32")


def native_precision(device: torch.device) -> str:
    """bf16 on CUDA and on CPUs whose oneDNN has bf16 instructions (AVX-512 BF16, AMX), else fp32.

    Without them autocast buys nothing: on an AVX2-only EPYC the product config trained at 13.8 images/s in bf16
    against 14.5 in fp32 (one thread, idle, `python -m bench.train_step`) and crawled beside other work (12 steps in
    10 minutes), and the latent prior's step took 25 s in bf16 against 1.6 s in fp32; a CPU with them trained the
    product config 1.53x faster in bf16 (bench row 8b).
    """
    if device.type == "cuda":
        return "bf16"
    try:
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return "fp32"


def resolve_precision(precision: str, device: torch.device) -> str:
    """The device's native precision for "auto"; "bf16" and "fp32" stay as asked."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return native_precision(device) if precision == "auto" else precision


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """bf16 autocast for "bf16", nothing for "fp32" (a resolved precision, not "auto")."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
