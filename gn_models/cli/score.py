"""``golden-noise score FOLDER --metric ...``: every image of a folder scored by every metric.

The table written (parquet, one row per image, sorted by file name) is *wide*: ``file_name``,
``prompt``, ``seed`` (when the folder's metadata has one), the metadata's other columns, then
one float64 column per metric named by the reward's ``name`` ("HPSv2", "PickScore"). Which
reward, version, settings and device made each column, and a fingerprint of the images, are
kept in the file's metadata (``pandas.read_parquet(path).attrs["golden_noise"]``), so that
``golden-noise compare`` can reuse the scores of an unchanged folder.

The summary gives per metric the mean, the standard deviation, the number of images and the
95% interval of the mean from a cluster bootstrap over prompts (the images of one prompt,
several seeds, are not independent), as the evaluation of the Dagster graph does.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gn_models.cli.metrics import batch_size_option, device_option, metric_option

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from gn_models.cli.images import ImageFolder
    from gn_models.rewards.base import RewardModel

SCORES_FILE = "scores.parquet"
ATTRS_KEY = "golden_noise"
FLOAT_FORMAT = "{:.4f}".format


@dataclasses.dataclass
class Metric:
    """A loaded metric: the ``--metric`` text, its reward, and what identifies its scores
    (reward kind, name, version, full config, device, dtype, batch size): scores with an equal
    identity are interchangeable."""

    text: str
    reward: RewardModel
    identity: dict[str, Any]

    @property
    def column(self) -> str:
        return self.reward.name


def load_metrics(specs, device: str, batch_size: int) -> list[Metric]:
    """``build_metrics`` with each reward's identity (see ``Metric``). Raises as it does."""
    from gn_models.cli.metrics import build_metrics
    from gn_models.utils.device import resolve_device

    metrics = []
    for spec, (config, reward) in zip(specs, build_metrics(specs, device, batch_size), strict=True):
        identity = {
            "kind": spec.kind,
            "name": reward.name,
            "version": str(reward.version),
            "config": dataclasses.asdict(config),
            "device": str(getattr(reward, "device", resolve_device(device))),
            "dtype": str(getattr(reward, "dtype", "")),
            "batch_size": batch_size,
        }
        metrics.append(Metric(spec.text, reward, json.loads(json.dumps(identity, default=str))))
    return metrics


def read_folder(folder: str | Path, prompts: str | Path | None) -> ImageFolder:
    """``read_image_folder`` with its errors as clean command-line errors."""
    from gn_models.cli.images import ImageFolderError, read_image_folder

    try:
        return read_image_folder(folder, prompts)
    except ImageFolderError as err:
        raise click.ClickException(str(err)) from None


def score_images(folder: ImageFolder, metric: Metric, batch_size: int) -> np.ndarray:
    """(n,) float64 score of every image of ``folder`` (table order), with a progress bar."""
    import numpy as np
    from tqdm import tqdm

    from gn_models.cli.images import ImageFolderError

    scores = np.full(len(folder), np.nan)
    prompts = folder.prompts
    label = f"{metric.column} {folder.root.name or folder.root}"
    with tqdm(total=len(folder), desc=label, unit="image", dynamic_ncols=True) as bar:
        try:
            for indices, images in folder.batches(batch_size):
                batch_prompts = [prompts[i] for i in indices]
                values = metric.reward.score(images, batch_prompts, [None] * len(indices))
                scores[indices] = values.double().numpy()
                bar.update(len(indices))
        except ImageFolderError as err:
            raise click.ClickException(str(err)) from None
    return scores


def reusable_scores(folder: ImageFolder, metric: Metric) -> np.ndarray | None:
    """The metric's scores from ``FOLDER/scores.parquet`` when that file holds them for these
    very images and prompts, made by a metric of equal identity; else None."""
    path = folder.root / SCORES_FILE
    if not path.is_file():
        return None
    import pandas as pd

    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError):
        return None
    info = table.attrs.get(ATTRS_KEY, {})
    if (
        info.get("metrics", {}).get(metric.column) != metric.identity
        or info.get("images_fingerprint") != folder.fingerprint()
        or metric.column not in table.columns
        or sorted(table["file_name"]) != folder.file_names
    ):
        return None
    rows = table.set_index("file_name").loc[folder.file_names]
    if rows["prompt"].tolist() != folder.prompts:
        return None
    return rows[metric.column].to_numpy(dtype="float64")


def summarize(table: pd.DataFrame, metrics: list[Metric]) -> pd.DataFrame:
    """Per metric: name, version, images, prompts, mean, std, and the 95% cluster-bootstrap
    interval of the mean over prompts (``ci_low``, ``ci_high``)."""
    import pandas as pd

    from gn_models.evaluation.bootstrap import cluster_bootstrap

    prompts = table["prompt"].to_numpy()
    rows = []
    for metric in metrics:
        values = table[metric.column].to_numpy(dtype="float64")
        boot = cluster_bootstrap(values[:, None], prompts)
        rows.append(
            {
                "metric": metric.column,
                "version": metric.identity["version"],
                "images": len(values),
                "prompts": boot.clusters,
                "mean": values.mean(),
                "std": values.std(ddof=1) if len(values) > 1 else float("nan"),
                "ci_low": boot.low[0],
                "ci_high": boot.high[0],
            }
        )
    return pd.DataFrame(rows)


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@metric_option
@click.option(
    "--prompts",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Prompt file when FOLDER has no metadata.csv: TXT/CSV with one prompt per image in "
    "sorted file-name order, or a CSV with file_name,prompt columns.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Parquet file to write; default FOLDER/{SCORES_FILE}.",
)
@device_option
@batch_size_option
def score(folder, metrics, prompts, out, device, batch_size):
    """Score every image of FOLDER with every --metric and write a parquet table.

    FOLDER holds png/jpg/jpeg/webp images and a metadata.csv (the 🤗 datasets ImageFolder
    layout: columns file_name, prompt, optional seed, other columns kept), or give the
    prompts with --prompts. The table is wide: one row per image with file_name, prompt,
    seed (when given), the metadata's other columns and one column per metric, named by the
    reward ("HPSv2", "PickScore"). The summary shows per metric the mean, std, number of
    images and the 95% interval of the mean (cluster bootstrap over prompts).

    \b
    Example:
      golden-noise score images/ -m pickscore -m hpsv2:checkpoint=HPS_v2.1_compressed.pt
    """
    from gn_models.utils.tables import write_parquet

    images = read_folder(folder, prompts)
    metrics = load_metrics(metrics, device, batch_size)
    table = images.table.copy()
    for metric in metrics:
        table[metric.column] = score_images(images, metric, batch_size)
    table.attrs[ATTRS_KEY] = {
        "metrics": {m.column: m.identity for m in metrics},
        "images_fingerprint": images.fingerprint(),
    }
    out = (out or folder / SCORES_FILE).resolve()
    try:
        write_parquet(table, str(out))
    except OSError as err:
        raise click.ClickException(f"Could not write {out}: {err}. Pass another --out.") from None
    summary = summarize(table, metrics)
    click.echo(summary.to_string(index=False, float_format=FLOAT_FORMAT))
    click.echo(
        f"{len(table)} images of {folder}; ci_low, ci_high: 95% interval of the mean "
        f"(cluster bootstrap over prompts). Scores: {out}"
    )
