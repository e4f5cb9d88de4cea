"""Evaluation images: every method's noise for the same x_T, sampled at each setting."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from gn_models.backends.base import DiffusionBackend
from gn_models.types import Prompt, PromptEmbeds
from gn_models.utils.images import to_uint8

NoiseFn = Callable[[torch.Tensor, PromptEmbeds], torch.Tensor]


@dataclass(frozen=True)
class EvalSetting:
    """A sampling setting users vary: CFG scale and DDIM step count."""

    cfg_scale: float
    num_steps: int

    @property
    def name(self) -> str:
        return f"cfg{self.cfg_scale:g}_steps{self.num_steps}"


@dataclass
class EvaluationConfig:
    """Which images the evaluation samples: every evaluation prompt x E seeds, for each
    method, at every CFG scale x DDIM step count."""

    seeds_per_prompt: int = 3  # E seeds per evaluation prompt (sizing: docs/evaluation.md)
    first_seed: int = 1_000_000  # seeds first_seed .. first_seed + E - 1, apart from training
    cfg_scales: list[float] = field(default_factory=lambda: [5.5, 2.0, 1.0])
    step_counts: list[int] = field(default_factory=lambda: [10, 4])  # 4: learned at 10, used at 4
    re_denoise_cfg: float = 5.5  # w_l of the re-denoise oracle (w_w = 1.0)
    batch_size: int = 256

    def seeds(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds_per_prompt))

    def settings(self) -> list[EvalSetting]:
        """Every (CFG scale, step count), step counts major, in the configured order."""
        return [EvalSetting(c, s) for s, c in itertools.product(self.step_counts, self.cfg_scales)]


@dataclass
class MethodImages:
    """Images (N, c, h, w) uint8 of one method at one setting, N = prompts x seeds in
    prompt-major order, and the wall seconds spent making the noise and sampling."""

    images: np.ndarray
    noise_seconds: float
    sampling_seconds: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def sample_with_noise(
    backend: DiffusionBackend,
    noise_fn: NoiseFn,
    prompts: list[Prompt],
    seeds: list[int],
    setting: EvalSetting,
    batch_size: int = 256,
) -> MethodImages:
    """Sample every prompt x seed from ``noise_fn(x_T, cond)`` (identity: standard noise).

    x_T comes from the seed, so every method sees the same x_T for a (prompt, seed).
    """
    jobs = [(i, s) for i, _ in enumerate(prompts) for s in seeds]
    embeds = backend.encode_prompts([p.text for p in prompts])
    images, noise_s, sample_s = [], 0.0, 0.0
    for start in range(0, len(jobs), batch_size):
        batch = jobs[start : start + batch_size]
        cond = embeds.index([i for i, _ in batch])
        x_T = backend.initial_noise([s for _, s in batch])
        t0 = time.perf_counter()
        noise = noise_fn(x_T, cond).to(x_T.dtype)
        _sync(backend.device)
        t1 = time.perf_counter()
        images.append(to_uint8(backend.generate(noise, cond, setting.cfg_scale, setting.num_steps)))
        _sync(backend.device)
        noise_s, sample_s = noise_s + t1 - t0, sample_s + time.perf_counter() - t1
    return MethodImages(np.concatenate(images), noise_s, sample_s)
