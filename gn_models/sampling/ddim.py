"""DDIM sampling and its schedulers (Song et al. 2021), over any ``DiffusionBackend``.

Every sampler is a no-grad function ``f(backend, x, cond, ...)``; schedules come from
diffusers' ``DDIMScheduler`` and its inversion sibling ``DDIMInverseScheduler``, built from the
backend's ``scheduler_config``.
"""

from __future__ import annotations

import torch
from diffusers import DDIMInverseScheduler, DDIMScheduler

from gn_models.backends.base import DiffusionBackend
from gn_models.types import PromptEmbeds


def ddim_scheduler(backend: DiffusionBackend, num_steps: int) -> DDIMScheduler:
    """A fresh deterministic DDIM scheduler (eta = 0) over the backend's training schedule,
    with ``num_steps`` timesteps set on the backend's device."""
    scheduler = DDIMScheduler.from_config(backend.scheduler_config)
    scheduler.set_timesteps(num_steps, device=backend.device)
    return scheduler


def ddim_inverse_scheduler(backend: DiffusionBackend, num_steps: int) -> DDIMInverseScheduler:
    """The DDIM inversion sibling of ``ddim_scheduler``, with the same betas and spacing."""
    scheduler = DDIMInverseScheduler.from_config(backend.scheduler_config)
    scheduler.set_timesteps(num_steps, device=backend.device)
    return scheduler


@torch.no_grad()
def ddim_sample(
    backend: DiffusionBackend,
    x_T: torch.Tensor,
    cond: PromptEmbeds,
    cfg_scale: float = 5.5,
    num_steps: int = 10,
) -> torch.Tensor:
    """Deterministic DDIM sampling (eta = 0, Song et al. 2021, eq. 12) from x_T.

    Args:
        x_T: initial noise (B, C, H, W) on the backend's device and dtype.
        cond: prompt embeddings with B rows.
        cfg_scale: classifier-free guidance scale w.
        num_steps: number of DDIM steps.

    Returns:
        x_0 latents (B, C, H, W), same dtype as x_T.
    """
    scheduler = ddim_scheduler(backend, num_steps)
    x = x_T
    for t in scheduler.timesteps:
        eps = backend.predict_noise(x, t, cond, cfg_scale)
        x = scheduler.step(eps, t, x).prev_sample
    return x
