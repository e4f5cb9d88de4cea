"""Digit-MLP reward: the digits profile's default filter, a calibrated non-linear classifier
that more ink cannot fool.

The linear filter (``digit_classifier``) scores ``softmax(W x + b)``: brightening a digit
(``x -> clip(g x)``) or inking the background barely changes the prompted digit's
probability, so a filter that keeps the samples it prefers can drift towards heavy, smeared
digits. This one learns, besides the ten digits, an 11th class "not a clean digit" made of
ink-inflated copies of its training digits; reward = calibrated p(prompted digit), which
falls when the ink is inflated. It trains on the ``filter_train`` split only
(``gn_models.data.digits.load_digit_splits``), as the linear filter does; the judge
(``digit_cnn``) is still another model class trained on other digits.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gn_models.data.digits import digit_pixels, load_digit_splits, require_labels, top1_accuracy
from gn_models.rewards.base import RewardModel
from gn_models.rewards.digit_cnn import random_shifts
from gn_models.rewards.saved_tensors import load_reward_tensors, save_reward_tensors
from gn_models.types import PreparedModel

NOT_A_DIGIT = 10  # the 11th class: ink-inflated digits
ECE_BINS = 15  # bins of the expected calibration error
BATCH = 4096  # images per forward pass when scoring
TEMPERATURES = torch.exp(torch.linspace(math.log(0.05), math.log(20.0), 801))  # the fit's grid
INK_TEST_GAIN = 1.6  # the metadata's ink check: heldout digits x -> clip(1.6 x)


@dataclass
class DigitMLPRewardConfig:
    """Settings of the digit-MLP filter (training and calibration on the filter_train split)."""

    seed: int = 0  # the digits split (shared with the base model), calibration part, training RNG
    hidden: int = 128  # width of both hidden layers
    epochs: int = 150  # passes over the training part of filter_train
    batch_size: int = 64  # clean digits per step (ink-inflated negatives come on top)
    lr: float = 3e-3  # AdamW learning rate
    weight_decay: float = 1e-2  # AdamW weight decay
    dropout: float = 0.1  # after each hidden layer, in training
    label_smoothing: float = 0.05  # keeps logits from saturating; the temperature re-sharpens
    negative_fraction: float = 0.2  # ink-inflated negatives per clean digit in a batch
    min_gain: float = 1.4  # negatives' ink gain g (x -> clip(g x)) is uniform in [min, max]
    max_gain: float = 3.0
    min_offset: float = 0.15  # negatives' background ink c (x -> clip(x + c)) in [min, max]
    max_offset: float = 0.5
    calibration_fraction: float = 0.2  # share of filter_train kept out of training for the T fit

    def __post_init__(self):
        if not 0 < self.calibration_fraction < 1 or not 0 <= self.negative_fraction <= 1:
            raise ValueError(
                f"calibration_fraction={self.calibration_fraction} must be in (0, 1) and "
                f"negative_fraction={self.negative_fraction} in [0, 1]."
            )
        if not 1 < self.min_gain <= self.max_gain or not 0 < self.min_offset <= self.max_offset:
            raise ValueError(
                f"Ink gains [{self.min_gain}, {self.max_gain}] must lie above 1 and offsets "
                f"[{self.min_offset}, {self.max_offset}] above 0, each min <= max."
            )


class DigitMLP(nn.Module):
    """64 pixels -> two GELU layers of ``hidden`` units (dropout) -> 11 logits (digits 0-9 and
    ``NOT_A_DIGIT``).

    Input (B, 1, 8, 8) float32 in [0, 1]; output (B, 11) float32 logits.
    """

    def __init__(self, hidden: int = 128, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, NOT_A_DIGIT + 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


def inflate_ink(
    x: torch.Tensor, generator: torch.Generator, config: DigitMLPRewardConfig
) -> torch.Tensor:
    """Ink-inflated copies of digits (B, 1, 8, 8) in [0, 1], one of three per image at random:
    a gain (``clip(g x)``, g in [min_gain, max_gain]: strokes saturate and thicken), background
    ink (``clip(x + c)``, c in [min_offset, max_offset]) or a 3x3 dilation (a max-pool)."""
    n = len(x)
    kind = torch.randint(0, 3, (n, 1, 1, 1), generator=generator)
    gain = torch.empty(n, 1, 1, 1).uniform_(config.min_gain, config.max_gain, generator=generator)
    offset = torch.empty(n, 1, 1, 1).uniform_(
        config.min_offset, config.max_offset, generator=generator
    )
    gained, hazed = (x * gain).clamp(0, 1), (x + offset).clamp(0, 1)
    dilated = F.max_pool2d(x, 3, stride=1, padding=1)
    return torch.where(kind == 0, gained, torch.where(kind == 1, hazed, dilated))


def train_digit_mlp(
    images: torch.Tensor, labels: torch.Tensor, config: DigitMLPRewardConfig
) -> tuple[DigitMLP, list[float]]:
    """Train a ``DigitMLP`` with AdamW: each batch of clean digits, shifted by up to 1 pixel
    (``random_shifts``), plus ``negative_fraction`` as many ink-inflated copies of them labelled
    ``NOT_A_DIGIT``. Deterministic for a given config (and torch thread count); the caller's
    global RNG is left as it was.

    Args:
        images: (N, 1, 8, 8) float32 in [0, 1].
        labels: (N,) int64 digits 0-9.

    Returns:
        The model in eval mode and the mean training loss per epoch.
    """
    generator = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # initial weights and dropout
        model = DigitMLP(config.hidden, config.dropout)
        optimizer = torch.optim.AdamW(
            model.parameters(), config.lr, weight_decay=config.weight_decay
        )
        losses = []
        for _ in range(config.epochs):
            total = 0.0
            for batch in torch.randperm(len(labels), generator=generator).split(config.batch_size):
                clean = random_shifts(images[batch], generator)
                negatives = inflate_ink(
                    clean[: round(config.negative_fraction * len(batch))], generator, config
                )
                x = torch.cat([clean, negatives])
                y = F.pad(labels[batch], (0, len(negatives)), value=NOT_A_DIGIT)
                loss = F.cross_entropy(model(x), y, label_smoothing=config.label_smoothing)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            losses.append(total / len(labels))
    return model.eval(), losses


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T that minimises the cross-entropy of ``softmax(logits / T)`` (a grid of
    801 values, log-spaced over [0.05, 20]: deterministic, no optimiser state).

    Args:
        logits: (N, K) float32. labels: (N,) int64.
    """
    nll = torch.stack([F.cross_entropy(logits / t, labels) for t in TEMPERATURES])
    return TEMPERATURES[nll.argmin()].item()


def expected_calibration_error(
    probabilities: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS
) -> float:
    """ECE of the top-1 digit: confidence = probability of the argmax over the digits 0-9,
    correct = that argmax equals the label; the share-weighted mean |accuracy - confidence|
    over ``bins`` equal-width confidence bins.

    Args:
        probabilities: (N, K >= 10) float32; columns 0-9 are the digits.
        labels: (N,) int64 digits.
    """
    confidence, predicted = probabilities[:, :10].max(-1)
    correct = (predicted == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = 0.0
    for low, high in itertools.pairwise(edges.tolist()):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            gap = (correct[inside].mean() - confidence[inside].mean()).abs()
            ece += inside.float().mean().item() * gap.item()
    return ece


class DigitMLPReward(RewardModel):
    """reward = calibrated p(prompted digit) of an MLP with an 11th "ink-inflated" class.

    Design: a two-layer MLP on the 64 pixels (non-linear, unlike the ``digit_classifier``
    filter) trained on ``filter_train`` with two augmentations. Random shifts of up to 1 pixel
    are *positives*: real digits sit that loosely in the 8x8 box and the judge accepts them,
    so the filter should not punish them. Ink inflation makes *negatives*, an 11th class "not a
    clean digit" (``inflate_ink``: gain-and-clip, background ink, dilation), rather than a
    lower target for the digit's own class: a separate class lets the prompted digit's
    probability fall for inflated ink without teaching the ten digit classes anything false,
    and keeps the reward a plain probability in [0, 1]. Label smoothing keeps the logits from
    saturating; a temperature fitted on a calibration part held out of ``filter_train``
    (cross-entropy, clean digits) makes the probabilities honest. Heldout and base digits
    (which the filter never saw) only measure it.

    Args:
        model: a trained ``DigitMLP``.
        temperature: the calibration temperature T > 0 (logits / T before the softmax).
    """

    kind = "digit_mlp"
    config_class = DigitMLPRewardConfig
    name = "digit-mlp"
    version = "mlp-calibrated-v1"
    score_range = (0.0, 1.0)  # a probability

    def __init__(self, model: DigitMLP, temperature: float = 1.0):
        self.model, self.temperature = model.eval(), float(temperature)

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] -> uncalibrated logits (B, 11) float32 on the CPU
        (inputs as ``gn_models.data.digits.digit_pixels`` makes them)."""
        return torch.cat([self.model(b) for b in digit_pixels(images).split(BATCH)])

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] -> calibrated probabilities (B, 11) float32: the
        digits 0-9 and ``NOT_A_DIGIT``."""
        return torch.softmax(self.logits(images) / self.temperature, dim=-1)

    def score(self, images, prompts, labels):
        """(B,) float32 calibrated p(label) in [0, 1]; labels from the prompt file."""
        labels = require_labels(prompts, labels, self.name)
        return self.probabilities(images)[torch.arange(len(labels)), labels]

    def top1(self, images: torch.Tensor) -> torch.Tensor:
        """(B,) int64 argmax over the ten digits (the 11th class never wins)."""
        return self.logits(images)[:, :10].argmax(-1)

    def save(self, directory: str | Path, **info) -> None:
        """Write ``reward.safetensors`` (the MLP's weights and ``temperature``) and
        ``reward.json`` (name, version and ``info``)."""
        tensors = {**self.model.state_dict(), "temperature": torch.tensor([self.temperature])}
        save_reward_tensors(directory, tensors, self.name, self.version, **info)

    @classmethod
    def prepare(
        cls, config: DigitMLPRewardConfig, directory: Path, device: str = "auto"
    ) -> PreparedModel:
        """Train on filter_train less a calibration part, fit the temperature on that part,
        save to ``directory``, and report held-out accuracy, ECE (15 bins; also on the base
        split, 898 real digits the filter never saw: a steadier estimate) and the mean reward
        of heldout digits clean and with their ink inflated (``clip(1.6 x)``)."""
        splits = load_digit_splits(config.seed)
        images, labels = (splits.filter_train[0] + 1) / 2, splits.filter_train[1]
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(config.seed))
        held = round(config.calibration_fraction * len(labels))
        calibration, train = order[:held], order[held:]
        model, losses = train_digit_mlp(images[train], labels[train], config)
        reward = cls(model)
        reward.temperature = fit_temperature(
            reward.logits(images[calibration]), labels[calibration]
        )
        heldout, base = (splits.heldout[0] + 1) / 2, (splits.base[0] + 1) / 2
        probabilities = reward.probabilities(heldout)
        raw = torch.softmax(reward.logits(heldout), dim=-1)
        n = len(splits.heldout[1])
        metrics = {
            "heldout_accuracy": top1_accuracy(reward, *splits.heldout),
            "accuracy_base": top1_accuracy(reward, *splits.base),
            "ece_heldout": expected_calibration_error(probabilities, splits.heldout[1]),
            "ece_heldout_uncalibrated": expected_calibration_error(raw, splits.heldout[1]),
            "ece_base": expected_calibration_error(reward.probabilities(base), splits.base[1]),
            "temperature": reward.temperature,
        }
        reward.save(directory, **metrics)
        inked = (heldout * INK_TEST_GAIN).clamp(0, 1)
        prompts, digits = [""] * n, splits.heldout[1].tolist()
        return PreparedModel(
            {
                "reward": f"{reward.name} {reward.version}",
                **metrics,
                "heldout_reward_clean": reward.score(heldout, prompts, digits).mean().item(),
                "heldout_reward_ink_x1.6": reward.score(inked, prompts, digits).mean().item(),
                "train_images": len(train),
                "calibration_images": len(calibration),
                "heldout_images": n,
            },
            curves={"filter training loss": (list(range(1, len(losses) + 1)), losses)},
        )

    @classmethod
    def load(
        cls, config: DigitMLPRewardConfig, directory: Path, device: str = "auto"
    ) -> DigitMLPReward:
        """The filter that ``prepare`` saved (errors: ``from_directory``)."""
        return cls.from_directory(directory)

    @classmethod
    def from_directory(cls, directory: str | Path) -> DigitMLPReward:
        """Load what ``save`` wrote; the hidden width comes from the saved weights (errors:
        ``load_reward_tensors``)."""
        tensors = load_reward_tensors(directory, cls.name)
        temperature = tensors.pop("temperature").item()
        model = DigitMLP(hidden=tensors["net.1.weight"].shape[0])
        model.load_state_dict(tensors)
        return cls(model, temperature)
