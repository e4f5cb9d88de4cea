"""One tiny materialization of the whole digits graph through a real Dagster instance (sqlite
in a temporary DAGSTER_HOME): its settings, run config and resources."""

import csv
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance, Definitions, RunConfig

from gn_dagster.definitions import build_definitions
from gn_dagster.resources.models import DiffusionResource, RewardResource
from gn_dagster.resources.prompt_source import packaged_prompt_file
from gn_dagster.resources.storage import StorageResource
from gn_dagster.settings import Settings

TINY_TRAINING = {"steps": 30, "batch_size": 16, "eval_every": 10, "val_fraction": 0.2}
TINY_ROLLOUT = {
    "rollout_lengths": [1, 2],
    "cfg_scales": [5.5, 1.0],
    "sampling_steps": 4,
    "reward_every": 20,
    "reward_samples": 8,
}
TINY_OPS = {
    "noise_sequences": {
        "seeds_per_prompt": 3,
        "num_redenoise": 3,
        "batch_size": 32,
        "chunk_size": 8,
    },
    "npnet": {**TINY_TRAINING, "svd_dim": 16, "svd_out_hidden": 16, "conv_hidden": 8},
    "film_noise_net": {
        **TINY_TRAINING,
        **TINY_ROLLOUT,
        "hidden": 16,
        "num_blocks": 1,
        "best_of_chain": True,
    },
    "noise_transformer": {**TINY_TRAINING, **TINY_ROLLOUT, "dim": 16, "depth": 1},
    "noise_gru": {
        **TINY_TRAINING,
        **TINY_ROLLOUT,
        "hidden": 8,
        "gru_dim": 8,
        "predict_variance": True,
    },
    "eval_images": {
        "seeds_per_prompt": 2,
        "cfg_scales": [5.5, 1.0],
        "step_counts": [4],
        "chain_lengths": [1, 2],
        "chain_step_counts": [4],
        "chain_cfg_scales": [5.5, 1.0],
        "preview_columns": 4,
    },
}
TINY = RunConfig(ops={name: {"config": values} for name, values in TINY_OPS.items()})
TINY_BASE_MODEL = {"steps": 60, "batch_size": 64}
TINY_JUDGE = {"epochs": 10}
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
    """The header and first ``rows`` rows of CSV ``source``, written to ``path``."""
    with open(source, newline="") as f:
        lines = list(csv.reader(f))[: rows + 1]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(lines)
    return path


def write_tiny_prompts(root: Path) -> tuple[Path, Path]:
    """The first training and evaluation prompts of the digits profile, under ``root``."""
    train = head_of(
        packaged_prompt_file("digits_train_prompts.csv"), NUM_TRAIN_PROMPTS, root / "train.csv"
    )
    evaluation = head_of(
        packaged_prompt_file("digits_eval_prompts.csv"), NUM_EVAL_PROMPTS, root / "eval.csv"
    )
    return train, evaluation


def tiny_settings(root: Path, **overrides) -> Settings:
    """Settings of the digits graph on the prompt files and artifacts under ``root`` (CPU)."""
    values = {
        "storage_root": str(root / "artifacts"),
        "train_prompts": str(root / "train.csv"),
        "eval_prompts": str(root / "eval.csv"),
        "device": "cpu",
        **overrides,
    }
    return Settings(**values)


def tiny_resources() -> dict:
    """The profile's resources that the tiny graph replaces: a small base model and judge."""
    return {
        "diffusion": DiffusionResource(kind="digits", settings=TINY_BASE_MODEL),
        "judge_reward": RewardResource(kind="digit_cnn", settings=TINY_JUDGE),
    }


def graph_definitions(root: Path, **resources) -> Definitions:
    """The tiny digits graph under ``root`` (a small base model); ``resources`` replace the
    profile's."""
    return build_definitions(tiny_settings(root), **(tiny_resources() | resources))
