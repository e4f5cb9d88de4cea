"""Re-denoise sampling (NPNet, arXiv:2411.09502, Sec. 3.2): one DDIM denoise step with strong
CFG and one DDIM inversion step back with weak CFG, once or as a chain of n steps."""

from __future__ import annotations

import torch

from gn_models.backends.base import DiffusionBackend
from gn_models.sampling.ddim import ddim_inverse_scheduler, ddim_scheduler
from gn_models.sampling.gaussian_shell import rescale_to_norm
from gn_models.types import PromptEmbeds


@torch.no_grad()
def re_denoise(
    backend: DiffusionBackend,
    x_T: torch.Tensor,
    cond: PromptEmbeds,
    cfg_denoise: float = 5.5,
    cfg_inversion: float = 1.0,
    num_steps: int = 10,
) -> torch.Tensor:
    """Re-denoise sampling: golden noise x'_T from x_T (NPNet, Sec. 3.2).

    One DDIM step from x_T at the first timestep t with CFG scale w_l (``cfg_denoise``) gives
    x_{T-1}; one DDIM inversion step with the noise predicted at the same t with CFG scale
    w_w (``cfg_inversion``) returns to x_T's noise level. With w_l > w_w the round trip leaves
    a prompt-dependent perturbation; with w_l == w_w and a denoiser that ignores x it returns
    x_T exactly.

    Note: diffusers' ``DDIMInverseScheduler.step(eps, tau, x)`` maps level tau - 1000/N up to
    tau, so the inversion step is called with t itself (the reference code's timesteps[1]
    lands one level below x_T).

    Args:
        x_T: initial noise (B, C, H, W) on the backend's device and dtype.
        cond: prompt embeddings with B rows.
        cfg_denoise: w_l, default 5.5 (the paper's setting).
        cfg_inversion: w_w, default 1.0 (plain conditional prediction).
        num_steps: the DDIM step count that defines t and the step size (paper: 10).

    Returns:
        x'_T, (B, C, H, W), same dtype as x_T.
    """
    scheduler = ddim_scheduler(backend, num_steps)
    inverse = ddim_inverse_scheduler(backend, num_steps)
    t = scheduler.timesteps[0]
    eps = backend.predict_noise(x_T, t, cond, cfg_denoise)
    x_prev = scheduler.step(eps, t, x_T).prev_sample  # x_{T-1}
    eps_back = backend.predict_noise(x_prev, t, cond, cfg_inversion)
    return inverse.step(eps_back, t, x_prev).prev_sample


@torch.no_grad()
def re_denoise_chain(
    backend: DiffusionBackend,
    x_T: torch.Tensor,
    cond: PromptEmbeds,
    num_redenoise: int = 10,
    cfg_denoise: float = 5.5,
    cfg_inversion: float = 1.0,
    num_steps: int = 10,
    renormalize: bool = False,
) -> torch.Tensor:
    """Re-denoise applied ``num_redenoise`` (n) times: x_T -> x'_1 -> ... -> x'_n.

    Each step inflates the noise a little (digits: ||x'_10|| ~ 1.7 ||x_T||); with
    ``renormalize`` every state is rescaled to ||x_T|| before the next step, so the chain
    stays on the Gaussian shell (``gn_models.sampling.gaussian_shell``).

    Args:
        x_T: initial noise (B, C, H, W) on the backend's device and dtype.
        cond: prompt embeddings with B rows.
        num_redenoise, cfg_denoise, cfg_inversion, num_steps: n, w_l, w_w and the DDIM step
            count of every re-denoise step (see ``re_denoise``).
        renormalize: rescale each state to the norm of x_T (per sample).

    Returns:
        (B, n+1, C, H, W) = [x_T, x'_1, ..., x'_n], same dtype as x_T.
    """
    states = [x_T]
    for _ in range(num_redenoise):
        state = re_denoise(backend, states[-1], cond, cfg_denoise, cfg_inversion, num_steps)
        states.append(rescale_to_norm(state, x_T) if renormalize else state)
    return torch.stack(states, dim=1)
