"""Devices and CPU threads: "auto" means CUDA when available, else the CPU; a fixed number of
torch CPU threads makes float reductions reproducible."""

from __future__ import annotations

import os

import torch


def resolve_device(device: str = "auto") -> str:
    """``device`` itself, or for "auto" "cuda" when a GPU is available, else "cpu"."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def machine_threads(cap: int = 8) -> int:
    """This machine's CPU count, at most ``cap``: a thread count fixed per machine (torch's
    own default also follows OMP_NUM_THREADS and earlier calls in the process)."""
    return max(1, min(os.cpu_count() or 1, cap))


def set_cpu_threads(threads: int) -> int:
    """Set torch's intra-op CPU threads to ``threads`` (0: leave them as they are); return the
    previous count, to restore it with ``set_cpu_threads(previous)``.

    CPU float reductions (sums, matmuls) split their work by thread, so their last bits can
    depend on the thread count; a fixed count reproduces them exactly.

    Raises:
        ValueError: ``threads`` is negative.
    """
    if threads < 0:
        raise ValueError(f"torch CPU threads must be 0 (torch's default) or more, got {threads}.")
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    return previous
