"""Paired comparisons: each method against a baseline (standard noise, or the re-denoise
oracle) on the same (prompt, seed, setting), judged by the judge reward, with the filter's
verdict beside it.

Per pair, with delta = reward(method) - reward(baseline): a *win* when delta > TIE_TOLERANCE, a
*tie* when |delta| <= TIE_TOLERANCE (identical images score identically), else a *loss*. The
win rate counts a tie as half a win, so 50% means "no difference". The *hacking gap* is the
filter's win rate minus the judge's: a method that learned what fools the filter wins by the
filter and not by the judge. Every mean comes with a 95% interval from a cluster bootstrap
over prompts (``gn_models.evaluation.bootstrap``), the same resamples for every statistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gn_models.evaluation.bootstrap import REPLICATES, cluster_bootstrap

TIE_TOLERANCE = 1e-6
SETTING = ["cfg_scale", "num_steps"]
PAIR_KEYS = [*SETTING, "prompt", "seed"]
# Per-pair statistics whose means (with intervals) the comparison reports, per baseline.
PAIRED = ("judge_win", "judge_gain", "accuracy_gain", "filter_win", "filter_gain", "hacking_gap")


@dataclass
class WinRate:
    """Share of successes with a 95% Wilson interval (for independent trials)."""

    rate: float
    low: float
    high: float
    wins: int
    n: int


def win_rate(wins: np.ndarray, z: float = 1.959964) -> WinRate:
    """Success rate of a boolean array with the Wilson score interval (Wilson 1927). For
    independent trials only; paired evaluation outcomes use ``compare`` (cluster bootstrap).

    Raises:
        ValueError: empty input.
    """
    n = len(wins)
    if n == 0:
        raise ValueError("win_rate needs at least one trial.")
    k = int(np.sum(wins))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return WinRate(p, max(0.0, centre - half), min(1.0, centre + half), k, n)


def outcome_score(delta: np.ndarray) -> np.ndarray:
    """1 for a win, 0.5 for a tie, 0 for a loss (float64), from reward differences."""
    delta = np.asarray(delta, dtype=np.float64)
    return np.where(delta > TIE_TOLERANCE, 1.0, np.where(delta < -TIE_TOLERANCE, 0.0, 0.5))


def pair_with(scores: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per-image scores -> one row per (setting, method, prompt, seed) paired with ``baseline``.

    Args:
        scores: one row per image; columns cfg_scale, num_steps, method, prompt, seed,
            reward_judge, reward_filter, correct (1.0 / 0.0, NaN when the judge is no
            classifier).
        baseline: the method every other method is paired with.

    Returns:
        keys, method and the ``PAIRED`` statistics; empty when ``baseline`` is absent.
    """
    columns = ["reward_judge", "reward_filter", "correct"]
    base = scores[scores["method"] == baseline][[*PAIR_KEYS, *columns]]
    other = scores[scores["method"] != baseline][[*PAIR_KEYS, "method", *columns]]
    pairs = other.merge(base, on=PAIR_KEYS, suffixes=("", "_base"), validate="m:1")
    judge = pairs["reward_judge"] - pairs["reward_judge_base"]
    filt = pairs["reward_filter"] - pairs["reward_filter_base"]
    pairs = pairs.assign(
        judge_win=outcome_score(judge),
        judge_gain=judge,
        accuracy_gain=pairs["correct"] - pairs["correct_base"],
        filter_win=outcome_score(filt),
        filter_gain=filt,
    )
    pairs["hacking_gap"] = pairs["filter_win"] - pairs["judge_win"]
    return pairs[[*PAIR_KEYS, "method", *PAIRED]]


def summarize_pairs(pairs: pd.DataFrame, replicates: int = REPLICATES, seed: int = 0) -> dict:
    """Means of the ``PAIRED`` statistics of one (method, setting) with cluster-bootstrap 95%
    intervals (``{name}``, ``{name}_low``, ``{name}_high``), the judge's wins / ties / losses,
    and the numbers of pairs and prompts."""
    boot = cluster_bootstrap(
        pairs[list(PAIRED)].to_numpy(), pairs["prompt"].to_numpy(), replicates, seed
    )
    row = {"pairs": len(pairs), "prompts": boot.clusters}
    for i, name in enumerate(PAIRED):
        row |= {name: boot.mean[i], f"{name}_low": boot.low[i], f"{name}_high": boot.high[i]}
    outcomes = pairs["judge_win"].to_numpy()
    row |= {
        "judge_wins": int((outcomes == 1).sum()),
        "judge_ties": int((outcomes == 0.5).sum()),
        "judge_losses": int((outcomes == 0).sum()),
    }
    return row


def compare(
    scores: pd.DataFrame, baseline: str, replicates: int = REPLICATES, seed: int = 0
) -> pd.DataFrame:
    """One row per (method, setting) against ``baseline``: ``summarize_pairs``."""
    rows = [
        {"method": m, "cfg_scale": c, "num_steps": s, **summarize_pairs(g, replicates, seed)}
        for (m, c, s), g in pair_with(scores, baseline).groupby(["method", *SETTING], sort=False)
    ]
    return pd.DataFrame(rows)


def method_means(scores: pd.DataFrame) -> pd.DataFrame:
    """Per (method, setting): mean judge reward, mean filter reward, accuracy (the judge's top-1
    equals the prompt's label) and the number of images."""
    return (
        scores.groupby(["method", *SETTING], sort=False)
        .agg(
            images=("reward_judge", "size"),
            judge_reward=("reward_judge", "mean"),
            filter_reward=("reward_filter", "mean"),
            accuracy=("correct", "mean"),
        )
        .reset_index()
    )
