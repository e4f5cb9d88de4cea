"""Digit-CNN reward: the digits profile's judge, a small convolutional classifier.

It is of another model class than the filters (the linear classifier, ``digit_classifier``,
which pays for ink, or the MLP, ``digit_mlp``) and trained on other images: the
``judge_train`` split, which neither the base model nor the filters saw
(``gn_models.data.digits.load_digit_splits``). Its penultimate activations are the feature
space of the realism measure (a Frechet distance, as FID uses Inception's pool features),
with real digits that neither the base model nor the judge trained on as the reference set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gn_models.data.digits import digit_pixels, load_digit_splits, require_labels, top1_accuracy
from gn_models.evaluation.realism import frechet_distance
from gn_models.rewards.base import RewardModel
from gn_models.rewards.saved_tensors import load_reward_tensors, save_reward_tensors
from gn_models.types import PreparedModel
from gn_models.utils.validation import AT_LEAST_1, NON_NEGATIVE, require

FEATURES = 64  # width of the feature layer
BATCH = 4096  # images per forward pass when scoring


@dataclass
class DigitCNNRewardConfig:
    """Settings of the digit-CNN judge (training on the judge_train split)."""

    seed: int = 0  # the digits split (shared with the base model) and the training RNG
    epochs: int = 100
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.05  # keeps the probabilities from saturating at 0 / 1

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a count below 1 or a negative, NaN or Inf
        rate."""
        require(self, AT_LEAST_1, "epochs", "batch_size")
        require(self, NON_NEGATIVE, "lr", "weight_decay")


class DigitCNN(nn.Module):
    """Two 3x3 convolutions (16, 32 channels), 2x2 max-pool, a 64-wide feature layer, 10 logits.

    Input (B, 1, 8, 8) float32 in [0, 1]; ``features`` (B, 64), ``forward`` (B, 10) logits.
    """

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.GELU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(32 * 4 * 4, FEATURES),
            nn.GELU(),
        )
        self.head = nn.Linear(FEATURES, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x * 2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def random_shifts(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image (B, 1, 8, 8) in [0, 1] moved by -1, 0 or +1 pixel along each axis (the
    uncovered border is background, 0): the classic augmentation for small digit sets."""
    padded = F.pad(x, (1, 1, 1, 1))
    offsets = torch.randint(0, 3, (len(x), 2), generator=generator)
    rows = offsets[:, 0, None] + torch.arange(8)
    cols = offsets[:, 1, None] + torch.arange(8)
    batch = torch.arange(len(x))[:, None, None]
    return padded[:, 0][batch, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


def train_digit_cnn(
    images: torch.Tensor, labels: torch.Tensor, config: DigitCNNRewardConfig
) -> tuple[DigitCNN, list[float]]:
    """Train a ``DigitCNN`` with AdamW and random shifts; deterministic for a given config.

    Args:
        images: (N, 1, 8, 8) float32 in [-1, 1] (as ``load_digit_splits`` gives them).
        labels: (N,) int64 digits.

    Returns:
        The model in eval mode and the mean training loss per epoch.
    """
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # initial weights and dropout
    model = DigitCNN()
    optimizer = torch.optim.AdamW(model.parameters(), config.lr, weight_decay=config.weight_decay)
    x = (images + 1) / 2
    losses = []
    for _ in range(config.epochs):
        total = 0.0
        for batch in torch.randperm(len(labels), generator=generator).split(config.batch_size):
            logits = model(random_shifts(x[batch], generator))
            loss = F.cross_entropy(logits, labels[batch], label_smoothing=config.label_smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(labels))
    return model.eval(), losses


class DigitCNNReward(RewardModel):
    """reward = softmax(CNN(image))[label], in [0, 1]; the label comes from the prompt file.

    Args:
        model: a trained ``DigitCNN``.
        reference: (N, 64) float32 features of the realism reference digits, or None.
    """

    kind = "digit_cnn"
    config_class = DigitCNNRewardConfig
    name = "digit-cnn"
    version = "cnn-v1"
    score_range = (0.0, 1.0)  # a probability

    def __init__(self, model: DigitCNN, reference: torch.Tensor | None = None):
        self.model, self.reference = model.eval(), reference

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] -> class probabilities (B, 10) float32."""
        x = digit_pixels(images)
        return torch.cat([torch.softmax(self.model(b), dim=-1) for b in x.split(BATCH)])

    def score(self, images, prompts, labels):
        labels = require_labels(prompts, labels, self.name)
        return self.probabilities(images)[torch.arange(len(labels)), labels]

    def top1(self, images: torch.Tensor) -> torch.Tensor:
        return self.probabilities(images).argmax(-1)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.model.features(b) for b in digit_pixels(images).split(BATCH)])

    def reference_features(self) -> torch.Tensor | None:
        return self.reference

    @classmethod
    def prepare(
        cls, config: DigitCNNRewardConfig, directory: Path, device: str = "auto"
    ) -> PreparedModel:
        """Train on the judge_train split, measure accuracy on the held-out split (and on the
        filter's and the base model's training digits), store the realism reference features
        (filter_train + heldout: real digits that neither the base model nor the judge saw)
        and the Frechet distance of the base model's real training digits to it (the floor of
        the realism measure: what real digits score)."""
        splits = load_digit_splits(config.seed)
        model, losses = train_digit_cnn(*splits.judge_train, config)
        reward = cls(model)
        real = torch.cat([splits.filter_train[0], splits.heldout[0]])
        reward.reference = reward.features((real + 1) / 2)
        accuracy = {
            f"accuracy_{split}": top1_accuracy(reward, *getattr(splits, split))
            for split in ("heldout", "filter_train", "base")
        }
        # What real digits score: the base model's own training digits vs the reference.
        floor = frechet_distance(reward.features((splits.base[0] + 1) / 2), reward.reference)
        tensors = {**model.state_dict(), "reference_features": reward.reference}
        save_reward_tensors(directory, tensors, cls.name, cls.version, **accuracy)
        return PreparedModel(
            {
                "reward": f"{cls.name} {cls.version}",
                "heldout_accuracy": accuracy["accuracy_heldout"],
                **accuracy,
                "train_images": len(splits.judge_train[1]),
                "heldout_images": len(splits.heldout[1]),
                "reference_images": len(real),
                "realism_floor_fd": floor,
            },
            curves={"judge training loss": (list(range(1, len(losses) + 1)), losses)},
        )

    @classmethod
    def load(
        cls, config: DigitCNNRewardConfig, directory: Path, device: str = "auto"
    ) -> DigitCNNReward:
        """The judge that ``prepare`` saved (errors: ``load_reward_tensors``)."""
        tensors = load_reward_tensors(directory, cls.name)
        reference = tensors.pop("reference_features")
        model = DigitCNN()
        model.load_state_dict(tensors)
        return cls(model, reference)
