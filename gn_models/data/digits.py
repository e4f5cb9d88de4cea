"""sklearn's bundled handwritten digits (1797 images, 8x8, values 0..16) and their captions."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# Caption phrasings; {w} is the number word, {n} the numeral. The base model and the training
# prompts use TRAIN_PHRASINGS; evaluation prompts use HELD_OUT_PHRASINGS, never seen in training.
TRAIN_PHRASINGS = (
    "a handwritten digit {w}",
    "the number {n}",
    "a drawing of the digit {n}",
    "handwritten {w}",
    "an image of the numeral {w}",
)
HELD_OUT_PHRASINGS = (
    "the digit {w} written by hand",
    "a scanned handwritten {n}",
)
STYLES = (
    "",
    ", neatly written",
    ", in black ink",
    ", bold strokes",
    ", small and centered",
    ", quickly scribbled",
)


@dataclass
class DigitSplits:
    """Disjoint image splits; images are (N, 1, 8, 8) float32 in [-1, 1], labels (N,) int64.

    ``base`` trains the diffusion model; ``reward_train`` / ``reward_test`` train and evaluate
    the reward classifier, on images the base model never saw.
    """

    base: tuple[torch.Tensor, torch.Tensor]
    reward_train: tuple[torch.Tensor, torch.Tensor]
    reward_test: tuple[torch.Tensor, torch.Tensor]


def load_digit_splits(
    seed: int = 0, base_fraction: float = 0.5, reward_test_fraction: float = 0.2
) -> DigitSplits:
    """Shuffle sklearn's digits with ``seed`` and split them into base / reward-train /
    reward-test. Pixel values 0..16 are scaled to [-1, 1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = torch.from_numpy(data.images.astype(np.float32) / 8.0 - 1.0).unsqueeze(1)
    labels = torch.from_numpy(data.target.astype(np.int64))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_base = int(base_fraction * len(order))
    n_test = int(reward_test_fraction * len(order))
    parts = order[:n_base], order[n_base : len(order) - n_test], order[len(order) - n_test :]
    return DigitSplits(*((images[p], labels[p]) for p in parts))


def caption(digit: int, phrasing: str, style: str = "") -> str:
    """Render one caption, e.g. caption(7, "the number {n}") == "the number 7"."""
    return phrasing.format(w=NUMBER_WORDS[digit], n=digit) + style


def captions(phrasings: tuple[str, ...], styles: tuple[str, ...] = STYLES) -> list[tuple[str, int]]:
    """Every (caption, digit) for the given phrasings x styles x digits 0..9."""
    return [(caption(d, p, s), d) for p, s, d in itertools.product(phrasings, styles, range(10))]
