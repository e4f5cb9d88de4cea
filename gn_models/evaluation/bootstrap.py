"""Cluster bootstrap: confidence intervals for means of paired outcomes clustered by prompt.

The evaluation scores P prompts x E seeds. Outcomes of the seeds of one prompt are correlated
(an easy prompt is easy for every seed), so treating the P x E pairs as independent gives
intervals that are too narrow. The cluster (case) bootstrap resamples whole prompts with
replacement and recomputes the statistic over every pair of the resampled prompts (Davison &
Hinkley 1997, "Bootstrap Methods and their Application", sec. 3.8; Field & Welsh 2007). The
interval is the percentile interval of the replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REPLICATES = 2000
LEVEL = 0.95


@dataclass
class BootstrapMeans:
    """Means of k statistics over n pairs with their cluster-bootstrap intervals.

    ``mean``, ``low``, ``high``: (k,) float64; ``clusters``: number of clusters (prompts).
    """

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    clusters: int


def cluster_bootstrap(
    values: np.ndarray,
    clusters: np.ndarray,
    replicates: int = REPLICATES,
    seed: int = 0,
    level: float = LEVEL,
) -> BootstrapMeans:
    """Column means of ``values`` with percentile intervals from resampling clusters.

    Args:
        values: (n, k) float per-pair statistics (a column of NaN gives NaN).
        clusters: (n,) cluster label of each pair (the prompt), any hashable dtype.
        replicates: bootstrap replicates B.
        seed: seed of the resampling RNG: the same inputs and seed give the same interval.
        level: coverage of the interval.

    Returns:
        ``BootstrapMeans``; each replicate mean is sum over drawn clusters of their sums divided
        by the number of pairs they hold (clusters of unequal size weigh by their pairs).

    Raises:
        ValueError: no pairs, ``clusters`` does not match ``values``, fewer than 2 replicates,
            or ``level`` outside (0, 1).
    """
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    if len(values) == 0 or len(clusters) != len(values):
        raise ValueError(
            f"cluster_bootstrap needs n >= 1 pairs and one cluster label per pair; got "
            f"{len(values)} pairs and {len(clusters)} labels."
        )
    if replicates < 2 or not 0 < level < 1:
        raise ValueError(
            f"cluster_bootstrap needs replicates >= 2 (got {replicates}) and 0 < level < 1 "
            f"(got {level}); the defaults are {REPLICATES} and {LEVEL}."
        )
    _, inverse = np.unique(np.asarray(clusters), return_inverse=True)
    n_clusters = inverse.max() + 1
    sums = np.zeros((n_clusters, values.shape[1]))
    np.add.at(sums, inverse, values)
    counts = np.bincount(inverse).astype(np.float64)
    draws = np.random.default_rng(seed).integers(0, n_clusters, size=(replicates, n_clusters))
    weights = np.zeros((replicates, n_clusters))
    np.add.at(weights, (np.arange(replicates)[:, None], draws), 1.0)
    means = (weights @ sums) / (weights @ counts)[:, None]
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return BootstrapMeans(values.mean(axis=0), low, high, int(n_clusters))
