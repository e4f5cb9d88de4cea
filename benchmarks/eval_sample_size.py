"""How many evaluation pairs resolve a given difference: cluster-bootstrap interval widths of
the judge's win rate for sub-designs of a measured score table.

For each design (P prompts x E seeds, taken from the evaluation's own prompts and seeds), the
95% cluster-bootstrap half-width of the judge's win rate vs standard noise is computed for
every (method, setting) of ``scores.parquet``; the script prints the median and the largest
half-width per design. A design resolves d points when its largest half-width is <= d.

    .venv/bin/python benchmarks/eval_sample_size.py [artifacts/scores/scores.parquet]
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from gn_models.evaluation.bootstrap import cluster_bootstrap
from gn_models.evaluation.paired_scores import pair_with

DEFAULT = "artifacts/scores/scores.parquet"


def half_widths(pairs: pd.DataFrame, prompts: list[str], seeds: list[int]) -> np.ndarray:
    """Half-width of the judge-win interval of each (method, setting) on the sub-design."""
    chosen = pairs[pairs["prompt"].isin(prompts) & pairs["seed"].isin(seeds)]
    widths = []
    for _, group in chosen.groupby(["method", "cfg_scale", "num_steps"]):
        boot = cluster_bootstrap(group[["judge_win"]].to_numpy(), group["prompt"].to_numpy())
        widths.append((boot.high[0] - boot.low[0]) / 2)
    return np.array(widths)


def main(path: str = DEFAULT) -> None:
    pairs = pair_with(pd.read_parquet(path), "standard")
    prompts = list(dict.fromkeys(pairs["prompt"]))
    seeds = sorted(pairs["seed"].unique())
    print(f"{path}: {len(prompts)} prompts x {len(seeds)} seeds\n")
    print("| prompts x seeds | pairs | median half-width | largest half-width |")
    print("|---|---|---|---|")
    for p in sorted({len(prompts) // 3, len(prompts) // 2, len(prompts)}):
        for e in range(1, len(seeds) + 1):
            w = half_widths(pairs, prompts[:p], seeds[:e])
            print(f"| {p} x {e} | {p * e} | {np.median(w):.1%} | {w.max():.1%} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
