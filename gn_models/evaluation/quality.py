"""Quality checks of pipeline outputs: noise statistics, the filter's keep rate, model outputs and
score tables. Each returns a ``Verdict``; the Dagster asset checks report them, and the
blocking ones stop bad data from reaching what is trained or evaluated on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gn_models.evaluation.paired_scores import win_rate
from gn_models.sampling.gaussian_shell import chi_std, sample_norms

# Golden noise must stay on x_T's Gaussian shell: per sample, | ||golden|| - ||x_T|| | within
# NORM_Z standard deviations of the chi distribution (~0.71 for any dimension, so +-2.8 for
# the 64-dimensional digits latents and for SDXL's 16384 x 4 alike). A renormalized chain or
# model passes by construction; the paper's unrenormalized 10-step chain (||x'_10|| ~ 1.7
# ||x_T|| on digits, ~8 standard deviations) fails.
NORM_Z = 4.0
MAX_OUTSIDE_BAND = 0.02  # fraction of samples allowed off the shell
Z_TOLERANCE = 6.0  # standard errors allowed for the sample mean and std of x_T
KEPT_FLOOR = 0.1  # the filter keeps about half of the samples; 10% means something is broken


@dataclass(frozen=True)
class Verdict:
    """Outcome of one check: passed, one line saying why, and the numbers behind it."""

    passed: bool
    description: str
    metrics: dict[str, float | int | str] = field(default_factory=dict)


def standard_normal(x_T: np.ndarray, z: float = Z_TOLERANCE) -> Verdict:
    """x_T looks like N(0, I): every value finite, and the sample mean and standard deviation
    within ``z`` standard errors of 0 and 1 (SE 1/sqrt(n) and 1/sqrt(2n) for n values).

    Args:
        x_T: (N, C, H, W) float noise, any N (N = 0 passes: an empty shard).
    """
    n = x_T.size
    if n == 0:
        return Verdict(True, "No samples (empty shard).", {"values": 0})
    finite = bool(np.isfinite(x_T).all())
    values = x_T.astype(np.float64)
    mean, std = float(values.mean()), float(values.std())
    mean_tol, std_tol = z / math.sqrt(n), z / math.sqrt(2 * n)
    passed = finite and abs(mean) <= mean_tol and abs(std - 1.0) <= std_tol
    return Verdict(
        passed,
        f"x_T over {n} values: mean {mean:.4f} (allowed +-{mean_tol:.4f}), std {std:.4f} "
        f"(allowed 1 +-{std_tol:.4f}), {'all finite' if finite else 'NOT all finite'}.",
        {
            "values": n,
            "mean": mean,
            "std": std,
            "mean_tolerance": mean_tol,
            "std_tolerance": std_tol,
        },
    )


def norm_on_shell(
    golden: np.ndarray,
    x_T: np.ndarray,
    z: float = NORM_Z,
    max_outside: float = MAX_OUTSIDE_BAND,
) -> Verdict:
    """Golden noise has x_T's shape, is finite, and stays on x_T's Gaussian shell: for all but
    a fraction ``max_outside`` of the samples, | ||golden|| - ||x_T|| | <= z * chi_std(d)
    (d = C*H*W; chi_std ~ 0.71, ``gn_models.sampling.gaussian_shell``).

    Args:
        golden, x_T: (N, C, H, W) float, golden[i] made from x_T[i].
    """
    if golden.shape != x_T.shape:
        return Verdict(False, f"golden noise has shape {golden.shape}, x_T {x_T.shape}.")
    if len(x_T) == 0:
        return Verdict(True, "No samples (empty shard).", {"samples": 0})
    finite = bool(np.isfinite(golden).all())
    spread = chi_std(int(np.prod(x_T.shape[1:])))
    drift = (sample_norms(golden) - sample_norms(x_T)) / spread  # in chi standard deviations
    outside = int((~(np.abs(drift) <= z)).sum())
    low, high = float(np.nanmin(drift)), float(np.nanmax(drift))
    return Verdict(
        finite and outside <= max_outside * len(drift),
        f"||golden|| - ||x_T|| per sample in [{low:+.2f}, {high:+.2f}] chi standard deviations "
        f"({spread:.3f}; mean {np.nanmean(drift):+.2f}), allowed +-{z:g}; {outside} of "
        f"{len(drift)} off the shell (allowed {max_outside:.0%}); "
        f"{'all finite' if finite else 'NOT all finite'}.",
        {
            "samples": len(drift),
            "mean_drift_z": float(np.nanmean(drift)),
            "min_drift_z": low,
            "max_drift_z": high,
            "off_shell": outside,
        },
    )


def kept_fraction_above(kept: np.ndarray, floor: float = KEPT_FLOOR) -> Verdict:
    """The filter keeps at least ``floor`` of the samples: fails only when the upper end
    of the 95% Wilson interval of the kept fraction is below ``floor`` (so a shard of a few
    samples that kept none by chance passes).

    Args:
        kept: (N,) bool keep flags.
    """
    if len(kept) == 0:
        return Verdict(True, "No samples (empty shard).", {"samples": 0})
    rate = win_rate(np.asarray(kept, dtype=bool))
    return Verdict(
        rate.high >= floor,
        f"kept {rate.wins} of {rate.n} = {rate.rate:.1%} (95% CI {rate.low:.1%}-{rate.high:.1%}); "
        f"floor {floor:.0%}.",
        {"samples": rate.n, "kept_fraction": rate.rate, "ci_high": rate.high, "floor": floor},
    )


def score_table_complete(
    scores: pd.DataFrame,
    prompts: list[str],
    seeds: list[int],
    groups: pd.DataFrame,
    score_ranges: dict[str, tuple[float, float]],
) -> Verdict:
    """Every (setting, method) group holds every prompt x seed exactly once, and every reward
    is finite and within its model's range.

    Args:
        scores: the per-image score table (columns cfg_scale, num_steps, method, prompt, seed
            and the reward columns).
        prompts, seeds: the evaluation prompts and seeds.
        groups: the expected (cfg_scale, num_steps, method) rows.
        score_ranges: reward column -> (low, high) of the reward model behind it.
    """
    keys = ["cfg_scale", "num_steps", "method"]
    expected = (
        groups[keys]
        .drop_duplicates()
        .merge(
            pd.DataFrame({"prompt": prompts}).merge(pd.DataFrame({"seed": seeds}), how="cross"),
            how="cross",
        )
    )
    present = scores[[*keys, "prompt", "seed"]]
    missing = len(
        expected.merge(present.drop_duplicates(), how="left", indicator=True).query(
            "_merge == 'left_only'"
        )
    )
    duplicated = int(present.duplicated().sum())
    out_of_range = sum(
        int((~np.isfinite(values) | (values < low) | (values > high)).sum())
        for column, (low, high) in score_ranges.items()
        for values in [scores[column].to_numpy(dtype=np.float64)]
    )
    ranges = ", ".join(f"{c} [{lo:g}, {hi:g}]" for c, (lo, hi) in score_ranges.items())
    return Verdict(
        missing == 0 and duplicated == 0 and out_of_range == 0,
        f"{len(scores)} rows for {len(expected)} expected (setting, method, prompt, seed): "
        f"{missing} missing, {duplicated} duplicated; {out_of_range} rewards outside their "
        f"range ({ranges}) or not finite.",
        {
            "rows": len(scores),
            "expected_rows": len(expected),
            "missing": missing,
            "duplicated": duplicated,
            "rewards_out_of_range": out_of_range,
        },
    )
