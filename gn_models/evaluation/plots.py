"""Figures of the evaluation (matplotlib): filter vs judge, gain distributions, and the
labelled preview grid. Each function returns a ``matplotlib.figure.Figure``; callers save or
embed it and close it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gn_models.evaluation.paired_scores import SETTING
from gn_models.evaluation.sample_images import parse_chain_method


def filter_vs_judge_figure(comparison: pd.DataFrame) -> Figure:
    """Win rate vs standard noise by the filter (x) and by the judge (y), one point per method
    and setting, with 95% cluster-bootstrap intervals; one panel per step count. Points below
    the diagonal win by the filter more than by the judge: the filter was fooled.

    Args:
        comparison: ``build_comparison``'s table (rows without ``judge_win`` are skipped).
    """
    frame = comparison.dropna(subset=["judge_win", "filter_win"])
    steps = sorted(frame["num_steps"].unique(), reverse=True)
    methods = list(dict.fromkeys(frame["method"]))
    palette = plt.get_cmap("tab20").colors
    colors = {m: palette[i % len(palette)] for i, m in enumerate(methods)}
    fig, axes = plt.subplots(1, len(steps), figsize=(4.2 * len(steps), 4), dpi=80, squeeze=False)
    for ax, step in zip(axes[0], steps, strict=True):
        ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--")
        ax.axhline(0.5, color="lightgrey", linewidth=0.6)
        for row in frame[frame["num_steps"] == step].itertuples():
            ax.errorbar(
                row.filter_win,
                row.judge_win,
                xerr=[
                    [row.filter_win - row.filter_win_low],
                    [row.filter_win_high - row.filter_win],
                ],
                yerr=[[row.judge_win - row.judge_win_low], [row.judge_win_high - row.judge_win]],
                fmt="o",
                color=colors[row.method],
                markersize=4,
                linewidth=0.8,
                label=row.method,
            )
            ax.annotate(
                f"{row.cfg_scale:g}",
                (row.filter_win, row.judge_win),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1),
            title=f"{step} steps (labels: CFG)",
            xlabel="win rate by the filter",
            ylabel="win rate by the judge",
        )
    handles = {h.get_label(): h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]}
    columns = min(len(handles), 4)
    legend_rows = -(-len(handles) // columns)
    fig.set_figheight(4 + 0.25 * legend_rows)
    fig.legend(
        handles.values(),
        handles.keys(),
        loc="lower center",
        ncol=columns,
        fontsize="small",
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.06 * legend_rows, 1, 1))
    return fig


def chain_figure(comparison: pd.DataFrame) -> Figure:
    """The chain oracles (re-denoise applied k times at inference) against k: the judge's
    mean gain over standard noise with 95% intervals per CFG scale (left) and the noise norm
    in chi standard deviations off the Gaussian shell (right); dashed: the paper's chain,
    solid: every state renormalized to ||x_T||. k = 0 is standard noise.

    Args:
        comparison: ``build_comparison``'s table with ``norm_z`` (rows of other methods are
            skipped).
    """
    parsed = comparison["method"].map(parse_chain_method)
    frame = comparison[parsed.notna()].assign(
        k=[p[0] for p in parsed.dropna()], renorm=[p[1] for p in parsed.dropna()]
    )
    with_chain = frame[(frame["k"] > 1) | frame["renorm"]][SETTING].drop_duplicates()
    frame = frame.merge(with_chain, on=SETTING)  # settings where only the oracle ran: skipped
    fig, (gain_ax, norm_ax) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=80)
    palette = plt.get_cmap("tab10").colors
    groups = list(frame.groupby(["num_steps", "cfg_scale"], sort=False))
    for i, ((steps, cfg), group) in enumerate(groups):
        for renorm, chain in group.groupby("renorm"):
            chain = chain.sort_values("k")
            k = np.r_[0, chain["k"]]
            gain = np.r_[0.0, chain["judge_gain"]]
            low = gain - np.r_[0.0, chain["judge_gain_low"]]
            high = np.r_[0.0, chain["judge_gain_high"]] - gain
            gain_ax.errorbar(
                k,
                gain,
                yerr=[low, high],
                color=palette[i % 10],
                linestyle="-" if renorm else "--",
                marker="o",
                markersize=3,
                linewidth=1,
                label=f"CFG {cfg:g}, {steps} steps" + (", renorm" if renorm else ""),
            )
            if i == 0 and "norm_z" in chain:
                norm_ax.plot(
                    k,
                    np.r_[0.0, chain["norm_z"]],
                    color="black",
                    linestyle="-" if renorm else "--",
                    marker="o",
                    markersize=3,
                    label="renormalized" if renorm else "paper's chain",
                )
    gain_ax.axhline(0.0, color="grey", linewidth=0.8)
    gain_ax.set(xlabel="re-denoise steps k", ylabel="judge gain over standard noise")
    gain_ax.legend(fontsize=6)
    norm_ax.axhspan(-1, 1, color="lightgrey", label="chi: 1 std")
    norm_ax.set(
        xlabel="re-denoise steps k",
        ylabel="(||x'_k|| - chi mean) / chi std",
        title="noise norm",
    )
    norm_ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def gain_distribution_figure(pairs: pd.DataFrame, column: str = "judge_gain") -> Figure:
    """Box plots of a per-pair statistic (default: the judge's reward gain over standard noise)
    per method, one panel per setting.

    Args:
        pairs: ``pair_with(scores, "standard")``.
    """
    settings = pairs[SETTING].drop_duplicates()
    settings = settings.sort_values(["num_steps", "cfg_scale"], ascending=False)  # as the table
    count = len(settings)
    cols = min(3, count)
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), dpi=80, squeeze=False)
    for ax, (cfg, steps) in zip(axes.ravel(), settings.itertuples(index=False), strict=False):
        chosen = pairs[(pairs["cfg_scale"] == cfg) & (pairs["num_steps"] == steps)]
        groups = {m: g[column].to_numpy() for m, g in chosen.groupby("method", sort=False)}
        ax.boxplot(list(groups.values()), showfliers=False)
        ax.set_xticks(range(1, len(groups) + 1), list(groups), rotation=30, fontsize=7)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set(title=f"CFG {cfg:g}, {steps} steps", ylabel=column.replace("_", " "))
    for ax in axes.ravel()[count:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def labelled_grid_figure(rows: dict[str, np.ndarray], column_labels: list[str]) -> Figure:
    """Images in a grid whose rows are named (the method) and whose columns are titled (the
    prompt).

    Args:
        rows: row label -> (N, C, H, W) uint8 images; every row the same N.
        column_labels: N titles (long ones are wrapped).
    """
    n = len(column_labels)
    fig, axes = plt.subplots(
        len(rows), n, figsize=(0.9 * n + 1.2, 0.9 * len(rows) + 0.9), dpi=80, squeeze=False
    )
    for i, (label, images) in enumerate(rows.items()):
        for j in range(n):
            ax = axes[i][j]
            image = np.moveaxis(images[j], 0, -1)
            ax.imshow(
                image.squeeze(-1) if image.shape[-1] == 1 else image,
                cmap="gray",
                vmin=0,
                vmax=255,
                interpolation="nearest",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
            if i == 0:
                ax.set_title(_wrap(column_labels[j]), fontsize=5)
    fig.tight_layout(pad=0.3)
    return fig


def _wrap(text: str, width: int = 14) -> str:
    words, lines = text.split(), [""]
    for word in words:
        if lines[-1] and len(lines[-1]) + len(word) + 1 > width:
            lines.append("")
        lines[-1] = f"{lines[-1]} {word}".strip()
    return "\n".join(lines)
