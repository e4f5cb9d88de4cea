"""The Gaussian shell: where N(0, I) noise lives, and keeping golden noise on it.

For x ~ N(0, I_d), ||x|| follows the chi distribution with d degrees of freedom: its mean is
sqrt(2) Gamma((d+1)/2) / Gamma(d/2) ~ sqrt(d - 1/2) and its standard deviation ~ 1/sqrt(2)
~ 0.71 for any d (the "shell" of radius ~ sqrt(d) and constant width that a sampler expects).
Re-denoise chains drift off it (||x'_k|| grows with k), and images sampled from inflated
noise change (digits: more ink), so chain states and model outputs can be rescaled back to
||x_T||.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats


def chi_mean(dim: int) -> float:
    """E||x|| for x ~ N(0, I_dim): sqrt(2) Gamma((d+1)/2) / Gamma(d/2)."""
    return math.sqrt(2.0) * math.exp(math.lgamma((dim + 1) / 2) - math.lgamma(dim / 2))


def chi_std(dim: int) -> float:
    """Standard deviation of ||x|| for x ~ N(0, I_dim): sqrt(d - E||x||^2), ~ 0.71 for d >= 10."""
    return math.sqrt(max(dim - chi_mean(dim) ** 2, 0.0))


def sample_norms(x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Per-sample L2 norms of (N, ...) noise: (N,) in x's type (float64 for numpy)."""
    if isinstance(x, torch.Tensor):
        return x.flatten(1).float().norm(dim=1)
    return np.linalg.norm(x.reshape(len(x), -1).astype(np.float64), axis=1)


def rescale_to_norm(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """x (B, ...) with each sample rescaled to the L2 norm of ``reference``'s (B, ...) sample:
    the direction of x on the shell of x_T. Same dtype and device as x."""
    scale = sample_norms(reference) / sample_norms(x).clamp_min(1e-12)
    return (x.float() * scale.view(-1, *[1] * (x.dim() - 1))).to(x.dtype)


def noise_statistics(noise: np.ndarray, x_T: np.ndarray) -> dict[str, float]:
    """How Gaussian a batch of noise looks, next to the x_T it was made from.

    Args:
        noise, x_T: (N, C, H, W) float arrays, noise[i] made from x_T[i].

    Returns:
        ``norm_mean`` / ``norm_std`` (||noise||), ``norm_ratio`` (mean ||noise|| / ||x_T||),
        ``norm_z`` (mean of (||noise|| - chi mean) / chi std: 0 on the shell, +8 is eight
        standard deviations outside), ``entry_mean``, ``entry_std``, ``entry_skew``,
        ``entry_kurtosis`` (excess; all 0, 1, 0, 0 for N(0, I)) and ``entry_ks`` (the
        Kolmogorov-Smirnov distance of the entries to N(0, 1)).
    """
    dim = int(np.prod(noise.shape[1:]))
    norms = sample_norms(noise)
    entries = noise.astype(np.float64).ravel()
    return {
        "norm_mean": float(norms.mean()),
        "norm_std": float(norms.std()),
        "norm_ratio": float((norms / sample_norms(x_T)).mean()),
        "norm_z": float(((norms - chi_mean(dim)) / chi_std(dim)).mean()),
        "entry_mean": float(entries.mean()),
        "entry_std": float(entries.std()),
        "entry_skew": float(stats.skew(entries)),
        "entry_kurtosis": float(stats.kurtosis(entries)),
        "entry_ks": float(stats.kstest(entries, "norm").statistic),
    }
