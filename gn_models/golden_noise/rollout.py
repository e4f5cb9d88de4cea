"""Choosing a golden-noise model's rollout length per sampling CFG scale, and its checkpoint,
by the filter reward on a validation split (never the judge).

A re-denoise chain keeps improving for several steps once it stays on the Gaussian shell, and
how many steps pay depends on the CFG scale the images are sampled at. So each model is rolled
out for every candidate length L on validation x_T, images are sampled at every CFG scale, and
the filter reward picks L per scale; the checkpoint whose best lengths give the highest mean
filter reward wins (teacher-forced MSE alone cannot tell a model whose rollout drifts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from gn_models.backends.base import DiffusionBackend
from gn_models.golden_noise.base import GoldenNoiseModel
from gn_models.rewards.base import RewardModel
from gn_models.types import PromptEmbeds
from gn_models.utils.validation import AT_LEAST_0, AT_LEAST_1, GUIDANCE, require


@dataclass
class RolloutSelection:
    """How rollout lengths and checkpoints are chosen on validation by the filter reward."""

    rollout_lengths: list[int] = field(default_factory=lambda: [1, 2, 3, 5, 10])  # candidates L
    cfg_scales: list[float] = field(default_factory=lambda: [5.5, 2.0, 1.0])  # a length per scale
    sampling_steps: int = 10  # DDIM steps of the validation images
    reward_every: int = 500  # optimiser steps between validation-reward checkpoints; 0: off
    reward_samples: int = 32  # validation sequences whose x_T are rolled out

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): an empty list, a rollout length or count
        below 1 (``reward_every`` below 0), or a guidance scale that is negative, NaN or Inf."""
        require(self, AT_LEAST_1, "rollout_lengths", "sampling_steps", "reward_samples")
        require(self, GUIDANCE, "cfg_scales")
        require(self, AT_LEAST_0, "reward_every")


@dataclass
class ValidationSet:
    """The validation x_T (V, C, H, W), their prompts' embeddings, texts and labels (-1: none)."""

    x_T: torch.Tensor
    cond: PromptEmbeds
    texts: list[str]
    labels: list[int | None]


@dataclass
class RolloutChoice:
    """The chosen length per CFG scale (``f"{cfg:g}"`` -> L), the checkpoint's score (mean
    over scales of the best mean filter reward) and every candidate's mean filter reward."""

    lengths: dict[str, int]
    score: float
    rewards: dict[str, dict[int, float]]


@torch.no_grad()
def select_rollout(
    model: GoldenNoiseModel,
    backend: DiffusionBackend,
    reward: RewardModel,
    validation: ValidationSet,
    selection: RolloutSelection,
) -> RolloutChoice:
    """The rollout length with the best mean filter reward at each CFG scale.

    Candidates longer than a sequence model's chain (``default_rollout``) are skipped: their
    transitions were never trained. Ties go to the shorter rollout (cheaper).

    Raises:
        ValueError: no candidate length is left.
    """
    cap = model.default_rollout if not model.one_step else max(selection.rollout_lengths)
    lengths = sorted({n for n in selection.rollout_lengths if 1 <= n <= cap})
    if not lengths:
        raise ValueError(
            f"rollout_lengths={selection.rollout_lengths}: none in 1..{cap} for {model.kind}."
        )
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    cond = validation.cond.to(device)
    rewards: dict[str, dict[int, float]] = {f"{s:g}": {} for s in selection.cfg_scales}
    for length in lengths:
        noise = model.rollout(validation.x_T.to(device), cond, length).to(backend.device)
        for scale in selection.cfg_scales:
            images = backend.generate(
                noise.to(backend.dtype),
                validation.cond.to(backend.device),
                scale,
                selection.sampling_steps,
            )
            scores = reward.score(images, validation.texts, validation.labels)
            rewards[f"{scale:g}"][length] = float(scores.float().mean())
    model.train(was_training)
    chosen = {s: max(r, key=lambda n: (r[n], -n)) for s, r in rewards.items()}
    score = float(np.mean([rewards[s][n] for s, n in chosen.items()]))
    return RolloutChoice(chosen, score, rewards)
