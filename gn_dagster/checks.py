"""Asset checks, one per property (``gn_models.quality`` holds the logic).

Blocking where a bad result would poison what follows: a noise shard with broken x_T, golden
noise out of band or an NPD filter that keeps almost nothing would train the models on bad
data; a checkpoint that does not reload or gives non-finite noise would spoil the
evaluation. Within a run a failed blocking check stops the downstream steps; across runs the
cron condition of the training assets waits for their inputs' blocking checks to pass.
"""

import numpy as np
import pandas as pd
import torch
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSpec,
    asset_check,
    multi_asset_check,
)

from gn_dagster.assets.golden_models import MODEL_ASSET_NAMES
from gn_dagster.assets.prompts import read_prompts_frame
from gn_dagster.partitions import prompt_shards
from gn_dagster.profiles import ProfileResource
from gn_dagster.storage import StorageResource
from gn_models.utils.fsio import join, localize
from gn_models.data.noise_sequence_store import open_shard, read_states
from gn_models.evaluation.quality import (
    NORM_BAND,
    Verdict,
    kept_fraction_above,
    norm_ratio_in_band,
    score_table_complete,
    standard_normal,
)
from gn_models.golden_noise.registry import load_golden_model

PROBE_PROMPTS = ["a photo of an astronaut riding a horse", "the handwritten number 3"]
PROBE_SEEDS = [11, 12, 13, 14]


def result(verdict: Verdict, check_name: str | None = None) -> AssetCheckResult:
    """A Dagster check result from a verdict (metadata: its description and numbers)."""
    return AssetCheckResult(
        check_name=check_name,
        passed=verdict.passed,
        description=verdict.description,
        metadata={"verdict": verdict.description, **verdict.metrics},
    )


def _shard_spec(name: str, description: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        name,
        asset="noise_pairs",
        blocking=True,
        partitions_def=prompt_shards,
        description=description,
    )


@multi_asset_check(
    specs=[
        _shard_spec(
            "x_T_standard_normal",
            "x_T of the shard is finite with mean ~0 and std ~1 (within 6 standard errors).",
        ),
        _shard_spec(
            "golden_noise_norm_in_band",
            f"x'_n is finite and each sample's norm (all but 2%) is within "
            f"{NORM_BAND[0]}-{NORM_BAND[1]} times its x_T's.",
        ),
        _shard_spec(
            "kept_fraction_above_floor",
            "The NPD filter keeps at least 10% of the shard (upper 95% Wilson bound).",
        ),
    ],
)
def noise_pairs_checks(context: AssetCheckExecutionContext, storage: StorageResource):
    shard = context.partition_key
    states = read_states(storage.npd_store, shard, [0, -1])  # (N, 2, C, H, W): x_T, x'_n
    group = open_shard(storage.npd_store, shard)
    kept = group["kept"][...] if group.attrs["count"] else np.zeros(0, dtype=bool)
    yield result(standard_normal(states[:, 0]), "x_T_standard_normal")
    yield result(norm_ratio_in_band(states[:, -1], states[:, 0]), "golden_noise_norm_in_band")
    yield result(kept_fraction_above(np.asarray(kept)), "kept_fraction_above_floor")


def checkpoint_check(model_name: str) -> AssetChecksDefinition:
    """Check of a model asset: the checkpoint reloads from storage, and its golden noise for
    probe prompts and seeds has x_T's shape, is finite and within the norm band."""

    @asset_check(
        asset=model_name,
        name="checkpoint_reloads_with_finite_output",
        blocking=True,
        description=(
            "The checkpoint reloads from storage; its golden noise for probe x_T and prompts "
            f"has x_T's shape, is finite, and each norm is within {NORM_BAND[0]}-"
            f"{NORM_BAND[1]} times x_T's."
        ),
    )
    def _check(storage: StorageResource, profile: ProfileResource) -> AssetCheckResult:
        backend = profile.load_backend(storage.base_model_dir)
        model = load_golden_model(localize(storage.checkpoint_dir(model_name)), backend.device)
        cond = backend.encode_prompts(PROBE_PROMPTS * (len(PROBE_SEEDS) // len(PROBE_PROMPTS)))
        x_T = backend.initial_noise(PROBE_SEEDS)
        with torch.no_grad():
            golden = model.golden_noise(x_T, cond)
        return result(norm_ratio_in_band(golden.float().cpu().numpy(), x_T.float().cpu().numpy()))

    return _check


@asset_check(
    asset="scores",
    name="score_table_complete",
    blocking=True,
    description=(
        "Every evaluation prompt x seed is scored exactly once for every sampling setting and "
        "method, and every reward is finite and within the reward model's range."
    ),
)
def score_table_check(storage: StorageResource, profile: ProfileResource) -> AssetCheckResult:
    scores = pd.read_parquet(storage.scores_path)
    index = pd.read_parquet(join(storage.eval_images_dir, "index.parquet"))
    prompts = [p.text for p in read_prompts_frame(storage.prompts_path("eval"))]
    groups = index[index["method"] != "standard"]  # standard noise is the paired baseline
    reward = profile.load_reward(storage.reward_model_dir)
    return result(
        score_table_complete(
            scores, prompts, sorted(index["seed"].unique().tolist()), groups, reward.score_range
        )
    )


ASSET_CHECKS = [noise_pairs_checks, *map(checkpoint_check, MODEL_ASSET_NAMES), score_table_check]
