"""Shared pieces of the training loops (accelerate, optimiser, progress)."""

from __future__ import annotations

import torch
from accelerate import Accelerator
from diffusers.optimization import get_cosine_schedule_with_warmup


def use_cpu(device: str) -> bool:
    """Whether ``device`` ("auto", "cpu", "cuda:N") means training on the CPU: "cpu", or any
    device when CUDA is unavailable."""
    return device == "cpu" or not torch.cuda.is_available()


def make_accelerator(device: str = "auto") -> Accelerator:
    """An Accelerator on CUDA when available (or ``device="cpu"`` to force the CPU).

    Launch with ``accelerate launch`` (or torchrun) for DDP across processes (one per GPU; on
    the CPU the processes join a gloo group) or mixed precision; no code change needed.

    The distributed state is built once per process: call this (or
    ``PartialState(cpu=use_cpu(device))``) before anything else builds it, or the CPU
    processes of a multi-process launch each train alone.
    """
    return Accelerator(cpu=use_cpu(device))


def adamw_cosine(model: torch.nn.Module, lr: float, steps: int, weight_decay: float = 1e-2):
    """AdamW with a linear warm-up over 5% of ``steps`` and cosine decay to 0."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = get_cosine_schedule_with_warmup(optimizer, max(1, steps // 20), steps)
    return optimizer, schedule
