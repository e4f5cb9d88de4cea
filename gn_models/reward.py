"""The reward interface: score images against their prompts (HPSv2, a digit classifier, ...)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class RewardModel(ABC):
    """Scores generated images; higher is better. ``name`` and ``version`` go into every score
    table so that rewards of different models or versions are never mixed; every score lies
    in ``score_range`` (low, high), which the score-table check enforces."""

    name: str
    version: str
    score_range: tuple[float, float]

    @abstractmethod
    def score(
        self, images: torch.Tensor, prompts: list[str], labels: list[int | None]
    ) -> torch.Tensor:
        """Reward per image.

        Args:
            images: (B, C, H, W) float32 in [0, 1].
            prompts: B prompt texts.
            labels: B optional integer labels from the prompt file (None where absent).

        Returns:
            (B,) float32 rewards on the CPU.
        """
