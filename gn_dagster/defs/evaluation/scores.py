"""Scores of the evaluation images: the judge's reward and top-1 correctness, the filter's
reward beside it (per image), and realism (the Frechet distance to real images in the judge's
feature space, per method and setting)."""

import numpy as np
import pandas as pd
import torch
from dagster import AssetDep, DataVersion, MaterializeResult, MetadataValue, asset

from gn_dagster.automation import on_data_change
from gn_dagster.metadata import table
from gn_dagster.resources.models import ComputeResource, RewardResource
from gn_dagster.resources.storage import StorageResource
from gn_models.evaluation.paired_scores import SETTING
from gn_models.evaluation.realism import realism_table
from gn_models.utils.images import load_png
from gn_models.utils.tables import read_parquet, write_parquet
from gn_models.utils.versions import localize

GROUP = "evaluation"


def load_eval_images(storage: StorageResource) -> tuple[pd.DataFrame, torch.Tensor]:
    """The evaluation image index and its images, (N, C, H, W) float32 in [0, 1]."""
    directory = localize(storage.eval_images_dir)
    index = read_parquet(directory / "index.parquet")
    images = np.stack([load_png(directory / p) for p in index["path"]])
    return index, torch.from_numpy(images) / 255.0


def correctness(reward, images: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    """(N,) float64: 1.0 where the reward's top-1 equals the label, 0.0 where not, NaN where
    the reward is no classifier or the prompt has no label (label < 0)."""
    top1 = reward.top1(images)
    if top1 is None:
        return np.full(len(labels), np.nan)
    return np.where(labels < 0, np.nan, (top1.numpy() == labels).astype(np.float64))


@asset(
    group_name=GROUP,
    deps=[AssetDep("eval_images"), AssetDep("judge_reward_model"), AssetDep("filter_reward_model")],
    code_version="4",
    automation_condition=on_data_change(),
    description=(
        "Every evaluation image scored: reward_judge (the judge, a reward the models never "
        "trained on), correct (the judge's top-1 equals the prompted label; NaN when the judge "
        "is no classifier) and reward_filter (the reward that selected the training data), one "
        "row per (setting, method, prompt, seed). Parquet."
    ),
)
def scores(
    storage: StorageResource,
    judge_reward: RewardResource,
    filter_reward: RewardResource,
    compute: ComputeResource,
) -> MaterializeResult:
    index, images = load_eval_images(storage)
    judge = judge_reward.load(storage.reward_dir("judge"), compute.device)
    filt = filter_reward.load(storage.reward_dir("filter"), compute.device)
    prompts = index["prompt"].tolist()
    labels = [None if lab < 0 else int(lab) for lab in index["label"]]
    frame = index.drop(columns=["parameters"]).assign(
        reward_judge=judge.score(images, prompts, labels).numpy(),
        correct=correctness(judge, images, index["label"].to_numpy()),
        reward_filter=filt.score(images, prompts, labels).numpy(),
        judge=f"{judge.name} {judge.version}",
        filter=f"{filt.name} {filt.version}",
    )
    version = write_parquet(frame, storage.scores_path)
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "path": MetadataValue.path(storage.scores_path),
            "judge": f"{judge.name} {judge.version}",
            "filter": f"{filt.name} {filt.version}",
            "dagster/row_count": len(frame),
            "preview": table(frame.head(10).round(4)),
        },
    )


@asset(
    group_name=GROUP,
    deps=[AssetDep("eval_images"), AssetDep("judge_reward_model")],
    code_version="1",
    automation_condition=on_data_change(),
    description=(
        "Realism of every (method, setting) image set: the Frechet distance (FID's formula) "
        "between the set and real images in the judge's feature space. digits: the digit CNN's "
        "feature layer, reference = real digits that neither the base model nor the judge "
        "trained on. Empty when the judge has no features or no reference set. Parquet."
    ),
)
def realism(
    storage: StorageResource, judge_reward: RewardResource, compute: ComputeResource
) -> MaterializeResult:
    index, images = load_eval_images(storage)
    judge = judge_reward.load(storage.reward_dir("judge"), compute.device)
    features, reference = judge.features(images), judge.reference_features()
    if features is None or reference is None:
        kinds = {"method": str, "cfg_scale": float, "num_steps": int, "images": int, "fd": float}
        frame = pd.DataFrame({c: pd.Series(dtype=t) for c, t in kinds.items()})
        note = f"{judge.name} has no feature space or reference set: no realism measure."
    else:
        groups = index[["method", *SETTING]]
        frame = realism_table(features.double().numpy(), groups, reference.double().numpy())
        note = f"Frechet distance in {judge.name}'s features to {len(reference)} real images."
    version = write_parquet(frame, storage.realism_path)
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "path": MetadataValue.path(storage.realism_path),
            "measure": note,
            "table": table(frame.round(4)),
        },
    )
