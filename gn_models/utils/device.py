"""Device names: "auto" means CUDA when available, else the CPU."""

from __future__ import annotations

import torch


def resolve_device(device: str = "auto") -> str:
    """``device`` itself, or for "auto" "cuda" when a GPU is available, else "cpu"."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
