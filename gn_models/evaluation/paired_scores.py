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


def build_comparison(scores_frame: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """``comparison_table`` plus, from the evaluation image index (columns method, cfg_scale,
    num_steps, parameters, noise_seconds_per_image, sampling_seconds_per_image): the extra
    inference time per image relative to one sampling run at that setting, and parameters."""
    keys = ["method", "cfg_scale", "num_steps"]
    timing = index.groupby(keys, sort=False).agg(
        noise_s=("noise_seconds_per_image", "first"), parameters=("parameters", "first")
    )
    sampling = (
        index[index["method"] == "standard"]
        .groupby(["cfg_scale", "num_steps"])
        .agg(sampling_s=("sampling_seconds_per_image", "first"))
    )
    timing = timing.reset_index().merge(sampling.reset_index(), on=["cfg_scale", "num_steps"])
    timing["extra_time_ratio"] = timing["noise_s"] / timing["sampling_s"]
    frame = comparison_table(scores_frame).merge(
        timing[[*keys, "extra_time_ratio", "parameters"]], on=keys
    )
    return frame.sort_values(
        ["num_steps", "cfg_scale", "method"], ascending=[False, False, True]
    ).reset_index(drop=True)


def comparison_markdown(frame: pd.DataFrame) -> str:
    """The comparison as a markdown table (also printed by `make demo`)."""
    extra = "extra_time_ratio" in frame
    lines = [
        "| method | CFG | steps | reward standard | reward golden | win rate (95% CI) |"
        + (" extra time | params |" if extra else ""),
        "|---|---|---|---|---|---|" + ("---|---|" if extra else ""),
    ]
    for r in frame.itertuples():
        line = (
            f"| {r.method} | {r.cfg_scale:g} | {r.num_steps} | {r.mean_reward_standard:.4f} "
            f"| {r.mean_reward_golden:.4f} | {r.win_rate:.1%} ({r.win_rate_ci_low:.1%} - "
            f"{r.win_rate_ci_high:.1%}) |"
        )
        if extra:
            line += f" {r.extra_time_ratio:.2%} | {r.parameters:,} |"
        lines.append(line)
    return "\n".join(lines) + "\n"
