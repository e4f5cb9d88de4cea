"""One tiny materialization of the whole graph through a real Dagster instance (sqlite in a
temporary DAGSTER_HOME), shared by the pipeline tests."""

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions, RunConfig

from gn_dagster.assets.base_models import BaseModelConfig
from gn_dagster.assets.evaluation import EvalImagesConfig
from gn_dagster.assets.golden_models import (
    FiLMAssetConfig,
    GRUAssetConfig,
    NPNetAssetConfig,
    TransformerAssetConfig,
)
from gn_dagster.assets.noise_pairs import NoisePairsConfig
from gn_dagster.definitions import build_definitions
from gn_dagster.demo import materialize_all
from gn_dagster.resources import packaged_prompt_file
from gn_dagster.storage import StorageResource

TINY_TRAINING = {"steps": 30, "batch_size": 16, "eval_every": 10, "val_fraction": 0.2}
TINY = RunConfig(
    ops={
        "base_model": BaseModelConfig(steps=60, batch_size=64),
        "noise_pairs": NoisePairsConfig(
            seeds_per_prompt=3, num_redenoise=3, batch_size=32, chunk_size=8
        ),
        "npnet": NPNetAssetConfig(**TINY_TRAINING, svd_dim=16, svd_out_hidden=16, conv_hidden=8),
        "film_noise_net": FiLMAssetConfig(**TINY_TRAINING, hidden=16, num_blocks=1),
        "noise_transformer": TransformerAssetConfig(**TINY_TRAINING, dim=16, depth=1),
        "noise_gru": GRUAssetConfig(**TINY_TRAINING, hidden=8, gru_dim=8, predict_variance=True),
        "eval_images": EvalImagesConfig(
            seeds_per_prompt=2, cfg_scales=[5.5, 1.0], step_counts=[4], preview_columns=4
        ),
    }
)
NUM_TRAIN_PROMPTS, NUM_EVAL_PROMPTS = 24, 4


@dataclass
class Materialized:
    defs: Definitions
    instance: DagsterInstance
    storage: StorageResource
    train_prompts: Path
    eval_prompts: Path
    root: Path  # holds the prompt files, artifacts/ and dagster_home/


def head_of(source: str, rows: int, path: Path) -> Path:
    with open(source, newline="") as f:
        lines = list(csv.reader(f))[: rows + 1]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(lines)
    return path


@pytest.fixture(scope="session")
def materialized(tmp_path_factory) -> Materialized:
    root = tmp_path_factory.mktemp("graph")
    train = head_of(
        packaged_prompt_file("digits_train_prompts.csv"), NUM_TRAIN_PROMPTS, root / "train.csv"
    )
    evaluation = head_of(
        packaged_prompt_file("digits_eval_prompts.csv"), NUM_EVAL_PROMPTS, root / "eval.csv"
    )
    defs = graph_definitions(root)
    home = root / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        materialize_all(defs, instance, TINY, log=lambda _: None)
        yield Materialized(defs, instance, defs.resources["storage"], train, evaluation, root)


def graph_definitions(root: Path) -> Definitions:
    """The digits graph on the prompt files and artifacts under ``root`` (CPU)."""
    return build_definitions(
        str(root / "artifacts"), str(root / "train.csv"), str(root / "eval.csv"), device="cpu"
    )


@pytest.fixture
def graph_copy(materialized, tmp_path) -> Materialized:
    """A private copy of the materialized graph (prompt files, artifacts, instance) for a
    test that edits prompts and reruns assets."""
    root = tmp_path / "graph"
    shutil.copytree(materialized.root, root)
    defs = graph_definitions(root)
    with DagsterInstance.local_temp(str(root / "dagster_home")) as instance:
        yield Materialized(
            defs, instance, defs.resources["storage"], root / "train.csv", root / "eval.csv", root
        )
