"""Evaluation: images from standard and golden noise on the same seeds, win rates with CIs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from gn_models.backend import DiffusionBackend
from gn_models.ddim import ddim_sample
from gn_models.npd import to_uint8
from gn_models.prompts import Prompt


@dataclass
class EvalImages:
    """Paired evaluation images. N = prompts x seeds.

    Attributes:
        prompt: (N,) str. label: (N,) int64, -1 where absent. seed: (N,) int64.
        image_standard, image_golden: (N, c, h, w) uint8, from x_T and from model(x_T).
    """

    prompt: np.ndarray
    label: np.ndarray
    seed: np.ndarray
    image_standard: np.ndarray
    image_golden: np.ndarray


@torch.no_grad()
def generate_eval_images(backend: DiffusionBackend, noise_model: torch.nn.Module,
                         prompts: list[Prompt], seeds: list[int], cfg_scale: float = 5.5,
                         num_steps: int = 10, batch_size: int = 256) -> EvalImages:
    """Sample every prompt x seed twice: from x_T and from the golden noise model(x_T, c).

    Both images of a pair share prompt, seed, CFG scale and DDIM steps; only the noise differs.
    """
    jobs = [(i, s) for i, _ in enumerate(prompts) for s in seeds]
    embeds = backend.encode_prompts([p.text for p in prompts])
    standard, golden = [], []
    for start in range(0, len(jobs), batch_size):
        index = [i for i, _ in jobs[start: start + batch_size]]
        cond = embeds.index(index)
        x_T = backend.initial_noise([s for _, s in jobs[start: start + batch_size]])
        x_golden = noise_model(x_T, cond).to(x_T.dtype)
        both = ddim_sample(backend, torch.cat([x_T, x_golden]), type(cond).cat([cond, cond]),
                           cfg_scale, num_steps)
        images = to_uint8(backend.decode(both))
        standard.append(images[: len(index)])
        golden.append(images[len(index):])
    return EvalImages(
        prompt=np.array([prompts[i].text for i, _ in jobs], dtype=object),
        label=np.array([-1 if prompts[i].label is None else prompts[i].label for i, _ in jobs]),
        seed=np.array([s for _, s in jobs], dtype=np.int64),
        image_standard=np.concatenate(standard),
        image_golden=np.concatenate(golden),
    )


@dataclass
class WinRate:
    """Share of pairs where golden noise beats standard noise, with a 95% Wilson interval."""

    rate: float
    low: float
    high: float
    wins: int
    n: int


def win_rate(wins: np.ndarray, z: float = 1.959964) -> WinRate:
    """Win rate of a boolean array with the Wilson score interval (Wilson 1927).

    Raises:
        ValueError: empty input.
    """
    n = len(wins)
    if n == 0:
        raise ValueError("win_rate needs at least one (prompt, seed) pair.")
    k = int(np.sum(wins))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return WinRate(p, max(0.0, centre - half), min(1.0, centre + half), k, n)


def score_table(pairs: pd.DataFrame, reward_standard: np.ndarray,
                reward_golden: np.ndarray) -> pd.DataFrame:
    """One row per (prompt, seed): prompt, label, seed, reward_standard, reward_golden, win.

    Args:
        pairs: N rows with columns prompt, label, seed (e.g. the eval image index).
        reward_standard, reward_golden: (N,) rewards of the images from x_T and from x'_T.
    """
    return pd.DataFrame({
        "prompt": pairs["prompt"].astype(str).to_numpy(),
        "label": pairs["label"].to_numpy(),
        "seed": pairs["seed"].to_numpy(),
        "reward_standard": np.asarray(reward_standard, dtype=np.float64),
        "reward_golden": np.asarray(reward_golden, dtype=np.float64),
        "win": np.asarray(reward_golden) > np.asarray(reward_standard),
    })


def summarize_scores(table: pd.DataFrame) -> dict[str, float]:
    """Mean rewards, mean gain and win rate with its 95% CI, as plain floats."""
    wr = win_rate(table["win"].to_numpy())
    return {
        "n": wr.n,
        "mean_reward_standard": float(table["reward_standard"].mean()),
        "mean_reward_golden": float(table["reward_golden"].mean()),
        "mean_gain": float((table["reward_golden"] - table["reward_standard"]).mean()),
        "win_rate": wr.rate,
        "win_rate_ci_low": wr.low,
        "win_rate_ci_high": wr.high,
    }
