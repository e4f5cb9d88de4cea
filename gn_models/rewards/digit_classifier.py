"""Digit-classifier reward: the probability that an image shows the prompted digit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from gn_models.data.digits import digit_pixels, load_digit_splits, require_labels, top1_accuracy
from gn_models.rewards.base import RewardModel
from gn_models.rewards.saved_tensors import load_reward_tensors, save_reward_tensors
from gn_models.types import PreparedModel


@dataclass
class DigitClassifierRewardConfig:
    """Settings of the digit-classifier reward."""

    seed: int = 0  # the digits split (shared with the base model) and the solver


class DigitClassifierReward(RewardModel):
    """Multinomial logistic regression on 8x8 pixels (scale 0..16, as in sklearn's digits).

    reward = softmax(W x + b)[label], in [0, 1]. The label comes from the prompt file's label
    column.

    Args:
        weight: (10, 64) float32. bias: (10,) float32.
    """

    kind = "digit_classifier"
    config_class = DigitClassifierRewardConfig
    name = "digit-classifier"
    version = "logreg-v1"
    score_range = (0.0, 1.0)  # a probability

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        self.weight, self.bias = weight.float().contiguous(), bias.float().contiguous()

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] -> class probabilities (B, 10) float32 (inputs as
        ``gn_models.data.digits.digit_pixels`` makes them)."""
        x = digit_pixels(images).reshape(len(images), -1) * 16.0
        return torch.softmax(x @ self.weight.T + self.bias, dim=-1)

    def score(self, images, prompts, labels):
        labels = require_labels(prompts, labels, self.name)
        return self.probabilities(images)[torch.arange(len(labels)), labels]

    def top1(self, images: torch.Tensor) -> torch.Tensor:
        return self.probabilities(images).argmax(-1)

    @classmethod
    def fit(
        cls, images: torch.Tensor, labels: torch.Tensor, seed: int = 0
    ) -> DigitClassifierReward:
        """Fit on (N, 1, 8, 8) images in [-1, 1] and (N,) int64 labels (scikit-learn, lbfgs)."""
        from sklearn.linear_model import LogisticRegression

        x = ((images + 1) * 8.0).reshape(len(images), -1).numpy()
        clf = LogisticRegression(max_iter=5000, C=0.1, random_state=seed).fit(x, labels.numpy())
        return cls(torch.from_numpy(clf.coef_), torch.from_numpy(clf.intercept_))

    def save(self, directory: str | Path, **info) -> None:
        """Write ``reward.safetensors`` and ``reward.json`` (name, version and ``info``)."""
        tensors = {"weight": self.weight, "bias": self.bias}
        save_reward_tensors(directory, tensors, self.name, self.version, **info)

    @classmethod
    def prepare(
        cls, config: DigitClassifierRewardConfig, directory: Path, device: str = "auto"
    ) -> PreparedModel:
        """Fit on the filter_train split (digits the base model never saw), save it to
        ``directory``, and report the accuracy on the held-out split."""
        splits = load_digit_splits(config.seed)
        reward = cls.fit(*splits.filter_train, seed=config.seed)
        accuracy = top1_accuracy(reward, *splits.heldout)
        reward.save(directory, heldout_accuracy=accuracy)
        return PreparedModel(
            {
                "reward": f"{reward.name} {reward.version}",
                "heldout_accuracy": accuracy,
                "train_images": len(splits.filter_train[1]),
                "heldout_images": len(splits.heldout[1]),
            }
        )

    @classmethod
    def load(
        cls, config: DigitClassifierRewardConfig, directory: Path, device: str = "auto"
    ) -> DigitClassifierReward:
        """The classifier that ``prepare`` saved (errors: ``from_directory``)."""
        return cls.from_directory(directory)

    @classmethod
    def from_directory(cls, directory: str | Path) -> DigitClassifierReward:
        """Load what ``save`` wrote (errors: ``load_reward_tensors``)."""
        tensors = load_reward_tensors(directory, cls.name)
        return cls(tensors["weight"], tensors["bias"])
