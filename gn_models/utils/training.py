"""Shared pieces of the training loops (accelerate, optimiser, progress)."""

from __future__ import annotations

import torch
from accelerate import Accelerator
from diffusers.optimization import get_cosine_schedule_with_warmup


def make_accelerator(device: str = "auto") -> Accelerator:
    """An Accelerator on CUDA when available (or ``device="cpu"`` to force the CPU).

    Launch with ``accelerate launch`` for multi-GPU or mixed precision; no code change needed.
    """
    return Accelerator(cpu=device == "cpu" or not torch.cuda.is_available())


def adamw_cosine(model: torch.nn.Module, lr: float, steps: int, weight_decay: float = 1e-2):
    """AdamW with a linear warm-up over 5% of ``steps`` and cosine decay to 0."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = get_cosine_schedule_with_warmup(optimizer, max(1, steps // 20), steps)
    return optimizer, schedule
