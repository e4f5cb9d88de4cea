"""``golden-noise compare FOLDER_A FOLDER_B --metric ...``: B against A, image by image.

Images are paired by ``file_name``: both folders must hold the same file names with the same
prompts (say, standard noise in A and golden noise in B, same prompts and seeds). Per metric
the table gives the mean of A and of B, the mean difference B - A, and the win rate of B over
A (a pair is a win when B scores more than ``TIE_TOLERANCE`` above A, a tie when within it,
counting half), each difference and win rate with a 95% cluster-bootstrap interval over
prompts, as the Dagster graph's evaluation does (``gn_models.evaluation``).

Scores are reused from a folder's ``scores.parquet`` (written by ``golden-noise score``) when
it holds them for the same images and prompts from the same metric (kind, name, version,
settings, device, batch size); ``--rescore`` always scores afresh.
"""

from __future__ import annotations

from pathlib import Path

import click

from gn_models.cli.metrics import batch_size_option, device_option, metric_option

FLOAT_FORMAT = "{:.4f}".format

SHOWN = 5


def check_pairs(a, b) -> None:
    """Both image folders hold the same file names with the same prompts.

    Raises:
        click.ClickException: naming the first mismatches.
    """
    names_a, names_b = set(a.file_names), set(b.file_names)
    if names_a != names_b:
        only_a, only_b = sorted(names_a - names_b), sorted(names_b - names_a)
        raise click.ClickException(
            f"{a.root} and {b.root} must hold the same file names (images are paired by "
            f"file_name). Only in {a.root}: {only_a[:SHOWN] or 'none'}"
            f"{' ...' if len(only_a) > SHOWN else ''}; only in {b.root}: "
            f"{only_b[:SHOWN] or 'none'}{' ...' if len(only_b) > SHOWN else ''}."
        )
    differ = [
        (name, pa, pb)
        for name, pa, pb in zip(a.file_names, a.prompts, b.prompts, strict=True)
        if pa != pb
    ]
    if differ:
        shown = "; ".join(f"{n}: {pa!r} in A, {pb!r} in B" for n, pa, pb in differ[:SHOWN])
        raise click.ClickException(
            f"{len(differ)} image(s) of {a.root} (A) and {b.root} (B) have different prompts, "
            f"so they cannot be paired: {shown}{' ...' if len(differ) > SHOWN else ''}."
        )


def compare_scores(scores_a, scores_b, prompts, replicates: int = 2000, seed: int = 0) -> dict:
    """Paired statistics of one metric.

    Args:
        scores_a, scores_b: (n,) scores of the paired images.
        prompts: (n,) prompt of each pair (the bootstrap's clusters).

    Returns:
        images, prompts, mean_A, mean_B, diff (mean B - A) with diff_ci_low / diff_ci_high,
        win_rate (ties half) with win_rate_ci_low / win_rate_ci_high, wins, ties, losses; the
        intervals are 95% percentile intervals of one cluster bootstrap over prompts.
    """
    import numpy as np

    from gn_models.evaluation.bootstrap import cluster_bootstrap
    from gn_models.evaluation.paired_scores import outcome_score

    a, b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    outcome = outcome_score(b - a)
    boot = cluster_bootstrap(
        np.stack([b - a, outcome], axis=1), np.asarray(prompts), replicates, seed
    )
    return {
        "images": len(a),
        "prompts": boot.clusters,
        "mean_A": a.mean(),
        "mean_B": b.mean(),
        "diff": boot.mean[0],
        "diff_ci_low": boot.low[0],
        "diff_ci_high": boot.high[0],
        "win_rate": boot.mean[1],
        "win_rate_ci_low": boot.low[1],
        "win_rate_ci_high": boot.high[1],
        "wins": int((outcome == 1).sum()),
        "ties": int((outcome == 0.5).sum()),
        "losses": int((outcome == 0).sum()),
    }


@click.command()
@click.argument("folder_a", type=click.Path(file_okay=False, path_type=Path))
@click.argument("folder_b", type=click.Path(file_okay=False, path_type=Path))
@metric_option
@click.option(
    "--prompts",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Prompt file for both folders when they have no metadata.csv (as for score).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("comparison.csv"),
    show_default=True,
    help="CSV file to write the table to.",
)
@click.option(
    "--rescore", is_flag=True, help="Score both folders even when a scores.parquet could be reused."
)
@device_option
@batch_size_option
def compare(folder_a, folder_b, metrics, prompts, out, rescore, device, batch_size):
    """Compare FOLDER_B against FOLDER_A, image by image, with every --metric.

    Images are paired by file_name (both folders: same file names, same prompts). Per metric:
    mean of A and of B, mean difference B - A, and the win rate of B over A (ties count
    half, 0.5 = no difference), each with a 95% cluster-bootstrap interval over prompts.
    A folder's scores.parquet from `golden-noise score` is reused when it holds the same
    metric (same settings, version and device) for the same images.

    \b
    Example:
      golden-noise compare standard/ golden/ -m pickscore --out comparison.csv
    """
    import pandas as pd

    from gn_models.cli.score import (
        load_metrics,
        read_folder,
        reusable_scores,
        score_images,
    )

    a, b = read_folder(folder_a, prompts), read_folder(folder_b, prompts)
    check_pairs(a, b)
    rows = []
    for metric in load_metrics(metrics, device, batch_size):
        scores = []
        for folder in (a, b):
            cached = None if rescore else reusable_scores(folder, metric)
            if cached is not None:
                click.echo(f"{metric.column}: reusing {folder.root / 'scores.parquet'}", err=True)
            scores.append(
                cached if cached is not None else score_images(folder, metric, batch_size)
            )
        row = {"metric": metric.column, "version": metric.identity["version"]}
        rows.append(row | compare_scores(*scores, a.prompts))
    table = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    click.echo(f"A = {folder_a}\nB = {folder_b}")
    click.echo(display_table(table).to_string(index=False))
    click.echo(
        "B - A: mean difference; B wins: share of pairs where B scores higher (ties count "
        f"half, 0.5 = no difference); [95% cluster-bootstrap interval over prompts]. Table: {out}"
    )


def display_table(table):
    """The comparison as printed: intervals beside their estimates, counts in one column."""
    import pandas as pd

    def interval(row, name, digits):
        low, high = row[f"{name}_ci_low"], row[f"{name}_ci_high"]
        return f"{row[name]:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    return pd.DataFrame(
        {
            "metric": table["metric"],
            "version": table["version"],
            "pairs": table["images"],
            "prompts": table["prompts"],
            "mean A": table["mean_A"].map(FLOAT_FORMAT),
            "mean B": table["mean_B"].map(FLOAT_FORMAT),
            "B - A [95% CI]": [interval(row, "diff", 4) for _, row in table.iterrows()],
            "B wins [95% CI]": [interval(row, "win_rate", 3) for _, row in table.iterrows()],
            "wins/ties/losses": [
                f"{row.wins}/{row.ties}/{row.losses}" for row in table.itertuples()
            ],
        }
    )
