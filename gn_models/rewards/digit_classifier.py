"""Digit-classifier reward: the probability that an image shows the prompted digit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from gn_models.data.digits import load_digit_splits
from gn_models.rewards.base import RewardModel
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
        """Images (B, C, H, W) in [0, 1] -> class probabilities (B, 10) float32.

        Like any reward model, it brings images to its input format: channels averaged to
        grayscale, and sizes other than 8x8 area-resampled to 8x8 (exact for 8x8 images
        upscaled by an integer factor with nearest neighbours, as the PNGs are).
        """
        x = images.detach().float().cpu().mean(dim=1, keepdim=True)
        if x.shape[-2:] != (8, 8):
            x = torch.nn.functional.interpolate(x, size=(8, 8), mode="area")
        x = x.reshape(len(x), -1) * 16.0
        return torch.softmax(x @ self.weight.T + self.bias, dim=-1)

    def score(self, images, prompts, labels):
        if any(label is None for label in labels):
            missing = next(p for p, label in zip(prompts, labels, strict=False) if label is None)
            raise ValueError(
                f"The digit-classifier reward needs a digit label for every prompt; "
                f"{missing!r} has none. Add a `label` column (0-9) to the prompt file."
            )
        probs = self.probabilities(images)
        return probs[torch.arange(len(probs)), torch.tensor(labels)]

    @classmethod
    def fit(
        cls, images: torch.Tensor, labels: torch.Tensor, seed: int = 0
    ) -> DigitClassifierReward:
        """Fit on (N, 1, 8, 8) images in [-1, 1] and (N,) int64 labels (scikit-learn, lbfgs)."""
        from sklearn.linear_model import LogisticRegression

        x = ((images + 1) * 8.0).reshape(len(images), -1).numpy()
        clf = LogisticRegression(max_iter=5000, C=0.1, random_state=seed).fit(x, labels.numpy())
        return cls(torch.from_numpy(clf.coef_), torch.from_numpy(clf.intercept_))

    def accuracy(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        """Top-1 accuracy on (N, 1, 8, 8) images in [-1, 1]."""
        predicted = self.probabilities((images + 1) / 2).argmax(-1)
        return (predicted == labels).float().mean().item()

    def save(self, directory: str | Path, **info) -> None:
        """Write ``reward.safetensors`` and ``reward.json`` (name, version and ``info``)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"weight": self.weight, "bias": self.bias}, directory / "reward.safetensors")
        meta = {"name": self.name, "version": self.version, **info}
        (directory / "reward.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def prepare(
        cls, config: DigitClassifierRewardConfig, directory: Path, device: str = "auto"
    ) -> PreparedModel:
        """Fit on the reward-train split (digits the base model never saw), save it to
        ``directory``, and report the held-out accuracy."""
        splits = load_digit_splits(config.seed)
        reward = cls.fit(*splits.reward_train, seed=config.seed)
        accuracy = reward.accuracy(*splits.reward_test)
        reward.save(directory, heldout_accuracy=accuracy)
        return PreparedModel(
            {
                "reward": f"{reward.name} {reward.version}",
                "heldout_accuracy": accuracy,
                "train_images": len(splits.reward_train[1]),
                "heldout_images": len(splits.reward_test[1]),
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
        """Load what ``save`` wrote.

        Raises:
            FileNotFoundError: no reward model there; materialize the `reward_model` asset.
        """
        path = Path(directory) / "reward.safetensors"
        if not path.is_file():
            raise FileNotFoundError(
                f"No digit-classifier reward in {directory}. Materialize the `reward_model` "
                "asset first (make demo, or the Dagster UI)."
            )
        tensors = load_file(path)
        return cls(tensors["weight"], tensors["bias"])
