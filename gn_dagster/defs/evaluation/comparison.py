"""The comparison of methods: judge, correctness, realism, the filter and the hacking gap, with
cluster-bootstrap intervals over prompts, against standard noise and the re-denoise oracle."""

from dagster import AssetDep, Config, DataVersion, MaterializeResult, MetadataValue, asset
from pydantic import Field

from gn_dagster.automation import on_data_change
from gn_dagster.metadata import figure_markdown, table
from gn_dagster.resources.storage import StorageResource
from gn_models.evaluation.bootstrap import REPLICATES
from gn_models.evaluation.comparison import (
    STANDARD,
    build_comparison,
    comparison_markdown,
    extra_time,
)
from gn_models.evaluation.paired_scores import pair_with
from gn_models.evaluation.plots import (
    chain_figure,
    filter_vs_judge_figure,
    gain_distribution_figure,
)
from gn_models.utils.tables import read_parquet, write_parquet
from gn_models.utils.versions import localize

GROUP = "evaluation"


class ComparisonConfig(Config):
    """The cluster bootstrap over prompts: replicates and the seed of its RNG (the same seed
    gives the same intervals)."""

    bootstrap_replicates: int = Field(default=REPLICATES, ge=100)
    bootstrap_seed: int = 0


def read_comparison_inputs(storage: StorageResource):
    """scores, realism, parameters (method -> count), timings and noise statistics from
    storage."""
    images = localize(storage.eval_images_dir)
    index = read_parquet(images / "index.parquet", columns=["method", "parameters"])
    return (
        read_parquet(storage.scores_path),
        read_parquet(storage.realism_path),
        index.drop_duplicates("method"),
        read_parquet(images / "timings.parquet"),
        read_parquet(images / "noise_stats.parquet"),
    )


@asset(
    group_name=GROUP,
    deps=[AssetDep("scores"), AssetDep("realism"), AssetDep("eval_images")],
    code_version="3",
    automation_condition=on_data_change(),
    description=(
        "One row per method and sampling setting: the judge's mean reward, accuracy (top-1 = "
        "prompted digit) and realism (FD), the filter's mean reward; against standard noise "
        "and against the re-denoise oracle on the same (prompt, seed): judge win rate (ties "
        "count half) with wins / ties / losses, judge gain, accuracy gain, filter win rate and "
        "the hacking gap (filter win - judge win), each with a 95% cluster-bootstrap interval "
        "over prompts; the noise's norm (norm z: standard deviations of the chi distribution "
        "off the Gaussian shell). Plots: filter vs judge, judge gain and noise norm of the "
        "chain oracles against k, judge gain distributions."
    ),
)
def comparison(config: ComparisonConfig, storage: StorageResource) -> MaterializeResult:
    scores, realism, parameters, timings, noise_stats = read_comparison_inputs(storage)
    frame = build_comparison(
        scores,
        realism,
        parameters,
        config.bootstrap_replicates,
        config.bootstrap_seed,
        noise_stats,
    )
    version = write_parquet(frame, storage.comparison_path)
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "path": MetadataValue.path(storage.comparison_path),
            "summary": MetadataValue.md(comparison_markdown(frame, extra_time(timings))),
            "filter_vs_judge": figure_markdown(
                filter_vs_judge_figure(frame),
                "filter vs judge",
                storage.url("scores", "filter_vs_judge.png"),
            ),
            "chain_oracles": figure_markdown(
                chain_figure(frame),
                "re-denoise applied k times",
                storage.url("scores", "chain_oracles.png"),
            ),
            "judge_gain_distribution": figure_markdown(
                gain_distribution_figure(pair_with(scores, STANDARD)),
                "judge gain over standard noise",
                storage.url("scores", "judge_gain.png"),
            ),
            "table": table(frame.round(4)),
        },
    )
