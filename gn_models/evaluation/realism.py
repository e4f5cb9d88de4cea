"""Realism: the Frechet distance between generated and real images in a feature space.

FID (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
Nash Equilibrium", eq. 6) fits a Gaussian to each set's Inception features and measures

    d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)).

Here the features are the judge's (the digit CNN's 64-wide feature layer on the digits profile),
the same formula scaled to this world. Like FID it is biased upward for small sets, so compare
methods at equal set sizes (the evaluation gives every method the same prompts x seeds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.linalg


def frechet_distance(features: np.ndarray, reference: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets.

    Args:
        features: (N, D) float features of the generated images, N >= 2.
        reference: (M, D) float features of real images, M >= 2.

    Returns:
        d^2 >= 0 (float); 0 for identical sets, up to round-off.

    Raises:
        ValueError: a set has fewer than two rows, or the widths differ.
    """
    a, b = np.asarray(features, np.float64), np.asarray(reference, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(
            f"frechet_distance needs two (N, D) feature sets of equal D with N >= 2; got "
            f"{a.shape} and {b.shape}."
        )
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(root):  # round-off gives tiny imaginary parts, as in pytorch-fid
        root = root.real
    distance = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    return max(0.0, float(distance))


def realism_table(
    features: np.ndarray, groups: pd.DataFrame, reference: np.ndarray
) -> pd.DataFrame:
    """Frechet distance of each group of images to the real reference set.

    Args:
        features: (N, D) features of N images.
        groups: N rows; the images of one group share their values in every column
            (e.g. method, cfg_scale, num_steps).
        reference: (M, D) features of real images.

    Returns:
        The group columns plus ``images`` (count) and ``fd`` (float), one row per group in
        order of first appearance.
    """
    keys = list(groups.columns)
    rows = []
    for key, group in groups.reset_index(drop=True).groupby(keys, sort=False):
        fd = frechet_distance(features[group.index.to_numpy()], reference)
        rows.append({**dict(zip(keys, key, strict=True)), "images": len(group), "fd": fd})
    return pd.DataFrame(rows, columns=[*keys, "images", "fd"])
