"""The reward interface: score images against their prompts (HPSv2, a digit classifier, ...).

A reward plays one of two roles in the graph: the *filter* keeps re-denoise samples whose
images it prefers, the *judge* scores the evaluation. The two may be different models.

Adding a reward: subclass ``RewardModel`` in a new file of this package, with a settings
dataclass (``config_class``) and ``prepare`` / ``load``, and add one line to
``gn_models.rewards.registry``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch

from gn_models.types import PreparedModel


class RewardModel(ABC):
    """Scores generated images; higher is better. ``name`` and ``version`` go into every score
    table so that rewards of different models or versions are never mixed; every score lies
    in ``score_range`` (low, high), which the score-table check enforces.

    Class attributes: ``kind`` (registry name = module name) and ``config_class`` (the
    settings dataclass that ``prepare`` and ``load`` take)."""

    kind: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    name: str
    version: str
    score_range: tuple[float, float]

    @classmethod
    def prepare(cls, config: Any, directory: Path, device: str = "auto") -> PreparedModel:
        """Make the reward ready under the local folder ``directory``: train and save it, or
        verify pretrained weights and record which; returns what to show in the UI. Needed
        to use the reward in the graph."""
        raise NotImplementedError(f"{cls.__name__} does not define prepare().")

    @classmethod
    def load(cls, config: Any, directory: Path, device: str = "auto") -> RewardModel:
        """The reward that ``prepare`` made ready in ``directory`` (``config``: an instance of
        ``config_class``). Needed to use the reward in the graph."""
        raise NotImplementedError(f"{cls.__name__} does not define load().")

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

    def top1(self, images: torch.Tensor) -> torch.Tensor | None:
        """Predicted class per image, for rewards that are classifiers (the evaluation's
        correctness: top-1 equals the prompt's label); None for the others.

        Args:
            images: (B, C, H, W) float32 in [0, 1].

        Returns:
            (B,) int64 on the CPU, or None.
        """
        return None

    def features(self, images: torch.Tensor) -> torch.Tensor | None:
        """Image features in which the evaluation measures realism (the Frechet distance to
        ``reference_features``, as FID does with Inception features); None when the reward
        has none.

        Args:
            images: (B, C, H, W) float32 in [0, 1].

        Returns:
            (B, D) float32 on the CPU, or None.
        """
        return None

    def reference_features(self) -> torch.Tensor | None:
        """(N, D) float32 ``features`` of real images that the reward made ready with it
        (``prepare``) as the realism reference; None when it has no such set."""
        return None
