"""Paired scores: each method against standard noise on the same (prompt, seed), win rates
with Wilson CIs, and the comparison table."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


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
