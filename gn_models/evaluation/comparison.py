"""The comparison table: every method at every setting, judged, with correctness, realism, the
filter's verdict and the hacking gap, against standard noise and against the re-denoise oracle.
"""

from __future__ import annotations

import pandas as pd

from gn_models.evaluation.bootstrap import REPLICATES
from gn_models.evaluation.paired_scores import SETTING, compare, method_means
from gn_models.evaluation.sample_images import ORACLE, parse_chain_method

STANDARD = "standard"
KEYS = ["method", *SETTING]


def build_comparison(
    scores: pd.DataFrame,
    realism: pd.DataFrame,
    parameters: pd.DataFrame,
    replicates: int = REPLICATES,
    seed: int = 0,
    noise_stats: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (method, cfg_scale, num_steps).

    Args:
        scores: per-image scores (``gn_models.evaluation.paired_scores.pair_with``).
        realism: columns method, cfg_scale, num_steps, fd (``realism_table``); fd may be NaN.
        parameters: columns method, parameters (count of the noise model's weights).
        replicates, seed: of the cluster bootstrap (same seed: same intervals).
        noise_stats: per (method, setting) statistics of the sampled noise
            (``gn_models.sampling.gaussian_shell.noise_statistics`` columns), merged in.

    Returns:
        ``method_means`` + fd + parameters, then the paired statistics against standard noise
        (``judge_win``, ``judge_win_low``, ... as ``summarize_pairs`` names them) and against
        the oracle (the same names prefixed ``oracle_``); NaN where a method is its own
        baseline. Rows ordered by steps and CFG (descending), methods as evaluated.
    """
    frame = method_means(scores).merge(realism[[*KEYS, "fd"]], on=KEYS, how="left")
    frame = frame.merge(parameters[["method", "parameters"]], on="method", how="left")
    if noise_stats is not None:
        frame = frame.merge(noise_stats, on=KEYS, how="left")
    for baseline, prefix in ((STANDARD, ""), (ORACLE, "oracle_")):
        paired = compare(scores, baseline, replicates, seed)
        if len(paired):
            renamed = paired.rename(columns={c: prefix + c for c in paired if c not in KEYS})
            frame = frame.merge(renamed, on=KEYS, how="left")
    order = {m: i for i, m in enumerate(scores["method"].unique())}
    frame = frame.assign(_order=frame["method"].map(order)).sort_values(
        ["num_steps", "cfg_scale", "_order"], ascending=[False, False, True]
    )
    return frame.drop(columns="_order").reset_index(drop=True)


def is_chain_row(method: str) -> bool:
    """A chain-oracle row other than the one-step oracle (``re_denoise_x3_renorm``)."""
    return method != ORACLE and parse_chain_method(method) is not None


def extra_time(timings: pd.DataFrame) -> pd.DataFrame:
    """Per (method, setting): noise time per image / sampling time per image of standard noise
    at that setting (wall times from ``eval_images``' ``timings.parquet``)."""
    keys = ["cfg_scale", "num_steps"]
    sampling = timings[timings["method"] == STANDARD][[*keys, "sampling_seconds_per_image"]]
    frame = timings[["method", *keys, "noise_seconds_per_image"]].merge(sampling, on=keys)
    ratio = frame["noise_seconds_per_image"] / frame["sampling_seconds_per_image"]
    return frame.assign(extra_time_ratio=ratio)


def _ci(row, name: str, percent: bool = True) -> str:
    value = getattr(row, name, float("nan"))
    if pd.isna(value):
        return "-"
    low, high = getattr(row, f"{name}_low"), getattr(row, f"{name}_high")
    if percent:
        return f"{value:.1%} ({low:.1%} - {high:.1%})"
    return f"{value:+.3f} ({low:+.3f} - {high:+.3f})"


def _wtl(row) -> str:
    if pd.isna(getattr(row, "judge_wins", float("nan"))):
        return "-"
    return f"{row.judge_wins:.0f} / {row.judge_ties:.0f} / {row.judge_losses:.0f}"


def _value(value, spec: str) -> str:
    return "-" if pd.isna(value) else format(value, spec)


COLUMNS = {  # header -> cell of one comparison row; headline (judge) first
    "method": lambda r: r.method,
    "CFG": lambda r: f"{r.cfg_scale:g}",
    "steps": lambda r: f"{r.num_steps}",
    "judge win vs standard (95% CI)": lambda r: _ci(r, "judge_win"),
    "W / T / L": _wtl,
    "judge gain (95% CI)": lambda r: _ci(r, "judge_gain", percent=False),
    "accuracy": lambda r: _value(r.accuracy, ".1%"),
    "FD": lambda r: _value(r.fd, ".2f"),
    "filter win": lambda r: _value(getattr(r, "filter_win", float("nan")), ".1%"),
    "hacking gap (95% CI)": lambda r: _ci(r, "hacking_gap"),
    "judge win vs oracle (95% CI)": lambda r: _ci(r, "oracle_judge_win"),
    "judge gain vs oracle (95% CI)": lambda r: _ci(r, "oracle_judge_gain", percent=False),
    "norm z": lambda r: _value(getattr(r, "norm_z", float("nan")), "+.1f"),
}


def comparison_markdown(frame: pd.DataFrame, extra_time: pd.DataFrame | None = None) -> str:
    """The comparison as one markdown table (the demo prints it; the UI shows it).

    Args:
        frame: ``build_comparison``'s table.
        extra_time: optional columns method, cfg_scale, num_steps, extra_time_ratio (noise
            time per image / sampling time per image), shown as a last column.
    """
    columns = dict(COLUMNS)
    if extra_time is not None:
        frame = frame.merge(extra_time[[*KEYS, "extra_time_ratio"]], on=KEYS, how="left")
        columns["extra time"] = lambda r: _value(r.extra_time_ratio, ".1%")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(f(r) for f in columns.values()) + " |" for r in frame.itertuples()]
    return "\n".join(lines) + "\n"
