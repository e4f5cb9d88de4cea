"""Evaluation: images from standard and golden noise on the same seeds, win rates with CIs."""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from gn_models.backend import DiffusionBackend
from gn_models.npd import to_uint8
from gn_models.prompts import Prompt
from gn_models.text_encoder import PromptEmbeds

NoiseFn = Callable[[torch.Tensor, PromptEmbeds], torch.Tensor]


@dataclass(frozen=True)
class EvalSetting:
    """A sampling setting users vary: CFG scale and DDIM step count."""

    cfg_scale: float
    num_steps: int

    @property
    def name(self) -> str:
        return f"cfg{self.cfg_scale:g}_steps{self.num_steps}"


@dataclass
class MethodImages:
    """Images (N, c, h, w) uint8 of one method at one setting, N = prompts x seeds in
    prompt-major order, and the wall seconds spent making the noise and sampling."""

    images: np.ndarray
    noise_seconds: float
    sampling_seconds: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def sample_with_noise(
    backend: DiffusionBackend,
    noise_fn: NoiseFn,
    prompts: list[Prompt],
    seeds: list[int],
    setting: EvalSetting,
    batch_size: int = 256,
) -> MethodImages:
    """Sample every prompt x seed from ``noise_fn(x_T, cond)`` (identity: standard noise).

    x_T comes from the seed, so every method sees the same x_T for a (prompt, seed).
    """
    jobs = [(i, s) for i, _ in enumerate(prompts) for s in seeds]
    embeds = backend.encode_prompts([p.text for p in prompts])
    images, noise_s, sample_s = [], 0.0, 0.0
    for start in range(0, len(jobs), batch_size):
        batch = jobs[start : start + batch_size]
        cond = embeds.index([i for i, _ in batch])
        x_T = backend.initial_noise([s for _, s in batch])
        t0 = time.perf_counter()
        noise = noise_fn(x_T, cond).to(x_T.dtype)
        _sync(backend.device)
        t1 = time.perf_counter()
        images.append(to_uint8(backend.generate(noise, cond, setting.cfg_scale, setting.num_steps)))
        _sync(backend.device)
        noise_s, sample_s = noise_s + t1 - t0, sample_s + time.perf_counter() - t1
    return MethodImages(np.concatenate(images), noise_s, sample_s)


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


def paired_scores(rewards: pd.DataFrame) -> pd.DataFrame:
    """Long rewards -> one row per (setting, method, prompt, seed) against standard noise.

    Args:
        rewards: columns cfg_scale, num_steps, method, prompt, label, seed, reward; the method
            "standard" is the baseline of every other method at the same setting.

    Returns:
        columns cfg_scale, num_steps, method, prompt, label, seed, reward_standard,
        reward_golden, win (reward_golden > reward_standard).
    """
    keys = ["cfg_scale", "num_steps", "prompt", "seed"]
    standard = rewards[rewards["method"] == "standard"][[*keys, "reward"]]
    golden = rewards[rewards["method"] != "standard"]
    table = golden.merge(standard, on=keys, suffixes=("_golden", "_standard"), validate="m:1")
    table["win"] = table["reward_golden"] > table["reward_standard"]
    return table[
        [
            "cfg_scale",
            "num_steps",
            "method",
            "prompt",
            "label",
            "seed",
            "reward_standard",
            "reward_golden",
            "win",
        ]
    ].reset_index(drop=True)


def summarize_scores(table: pd.DataFrame) -> dict[str, float]:
    """Mean rewards, mean gain and win rate with its 95% CI of paired scores, as floats."""
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


def comparison_table(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, cfg_scale, num_steps) of paired scores: summarize_scores."""
    rows = [
        {"method": m, "cfg_scale": c, "num_steps": s, **summarize_scores(group)}
        for (m, c, s), group in scores.groupby(["method", "cfg_scale", "num_steps"], sort=False)
    ]
    return pd.DataFrame(rows)
