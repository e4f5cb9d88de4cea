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


SPLITS = ("base", "filter_train", "judge_train", "heldout")


@dataclass
class DigitSplits:
    """Disjoint image splits of sklearn's digits; images are (N, 1, 8, 8) float32 in [-1, 1],
    labels (N,) int64, ``indices`` (N,) int64 positions in sklearn's array.

    - ``base`` trains the diffusion model;
    - ``filter_train`` trains the filter reward (the classifier that keeps re-denoise samples);
    - ``judge_train`` trains the judge (the evaluation's reward, of another model class);
    - ``heldout`` trains nothing: the rewards' held-out accuracy is measured on it.
    """

    base: tuple[torch.Tensor, torch.Tensor]
    filter_train: tuple[torch.Tensor, torch.Tensor]
    judge_train: tuple[torch.Tensor, torch.Tensor]
    heldout: tuple[torch.Tensor, torch.Tensor]
    indices: dict[str, torch.Tensor]


def load_digit_splits(
    seed: int = 0, fractions: tuple[float, float, float] = (0.5, 0.3, 0.12)
) -> DigitSplits:
    """Shuffle sklearn's digits with ``seed`` and split them into base / filter_train /
    judge_train / heldout (the rest; 8% by default). Pixel values 0..16 are scaled to [-1, 1].

    Args:
        fractions: shares of base, filter_train and judge_train; they must sum below 1.

    Raises:
        ValueError: ``fractions`` leave no held-out images.
    """
    from sklearn.datasets import load_digits

    if sum(fractions) >= 1 or min(fractions) <= 0:
        raise ValueError(f"Digit split fractions {fractions} must be > 0 and sum below 1.")
    data = load_digits()
    images = torch.from_numpy(data.images.astype(np.float32) / 8.0 - 1.0).unsqueeze(1)
    labels = torch.from_numpy(data.target.astype(np.int64))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    ends = np.cumsum([int(f * len(order)) for f in fractions]).tolist()
    parts = dict(zip(SPLITS, torch.tensor_split(order, ends), strict=True))
    return DigitSplits(**{k: (images[p], labels[p]) for k, p in parts.items()}, indices=parts)


def digit_pixels(images: torch.Tensor) -> torch.Tensor:
    """What a digit reward sees: images (B, C, H, W) in [0, 1] -> (B, 1, 8, 8) float32 in [0, 1]
    on the CPU; channels averaged to grayscale, other sizes area-resampled to 8x8 (exact for
    8x8 images upscaled by an integer factor with nearest neighbours, as the PNGs are)."""
    x = images.detach().float().cpu().mean(dim=1, keepdim=True)
    if x.shape[-2:] != (8, 8):
        x = torch.nn.functional.interpolate(x, size=(8, 8), mode="area")
    return x


def top1_accuracy(reward, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of a classifier reward (one with ``top1``) on (N, 1, 8, 8) images in
    [-1, 1] and (N,) int64 labels, as ``load_digit_splits`` gives them."""
    return (reward.top1((images + 1) / 2) == labels).float().mean().item()


def require_labels(prompts: list[str], labels: list[int | None], reward: str) -> torch.Tensor:
    """Labels as (B,) int64, for a digit reward named ``reward``.

    Raises:
        ValueError: a prompt has no label; the message names it and the fix.
    """
    missing = [p for p, label in zip(prompts, labels, strict=True) if label is None]
    if missing:
        raise ValueError(
            f"The {reward} reward needs a digit label for every prompt; {missing[0]!r} has "
            "none. Add a `label` column (0-9) to the prompt file."
        )
    return torch.tensor(labels, dtype=torch.int64)


def caption(digit: int, phrasing: str, style: str = "") -> str:
    """Render one caption, e.g. caption(7, "the number {n}") == "the number 7"."""
    return phrasing.format(w=NUMBER_WORDS[digit], n=digit) + style


def captions(phrasings: tuple[str, ...], styles: tuple[str, ...] = STYLES) -> list[tuple[str, int]]:
    """Every (caption, digit) for the given phrasings x styles x digits 0..9."""
    return [(caption(d, p, s), d) for p, s, d in itertools.product(phrasings, styles, range(10))]
