"""Blocking checks of each noise-sequence shard: a shard whose stored data no longer match
its data version, with broken x_T, golden noise off the shell or a filter that keeps almost
nothing would train the models on bad data."""

import numpy as np
from dagster import AssetCheckExecutionContext, AssetCheckSpec, multi_asset_check

from gn_dagster.lineage import latest_materialization
from gn_dagster.metadata import check_result
from gn_dagster.partitions import prompt_shards
from gn_dagster.resources.storage import StorageResource
from gn_models.data.noise_sequence_store import verify_shard
from gn_models.evaluation.quality import (
    NORM_Z,
    Verdict,
    kept_fraction_above,
    norm_on_shell,
    standard_normal,
)


def _shard_spec(name: str, description: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        name,
        asset="noise_sequences",
        blocking=True,
        partitions_def=prompt_shards,
        description=description,
    )


@multi_asset_check(
    specs=[
        _shard_spec(
            "shard_matches_data_version",
            "Every array of the stored shard reads back, and its digest equals the data version "
            "recorded at materialization (a corrupted or truncated chunk file fails here; "
            "rematerializing the shard repairs it).",
        ),
        _shard_spec(
            "x_T_standard_normal",
            "x_T of the shard is finite with mean ~0 and std ~1 (within 6 standard errors).",
        ),
        _shard_spec(
            "golden_noise_on_shell",
            f"x'_n is finite and stays on x_T's Gaussian shell: each sample's norm (all but "
            f"2%) is within {NORM_Z:g} chi standard deviations (~0.71) of its x_T's.",
        ),
        _shard_spec(
            "kept_fraction_above_floor",
            "The filter keeps at least 10% of the shard (upper 95% Wilson bound).",
        ),
    ],
)
def noise_sequences_checks(context: AssetCheckExecutionContext, storage: StorageResource):
    shard, store = context.partition_key, storage.noise_sequence_store
    recorded = latest_materialization(context.instance, "noise_sequences", shard).version
    integrity, arrays = verify_shard(store, shard, recorded)  # reads the shard once
    yield check_result(integrity, "shard_matches_data_version")
    if not integrity.passed:
        for name in ("x_T_standard_normal", "golden_noise_on_shell", "kept_fraction_above_floor"):
            yield check_result(Verdict(False, "Not evaluated: " + integrity.description), name)
        return
    noise = arrays.get("noise", np.zeros((0, 1)))  # an empty shard has no arrays
    x_T, x_n = noise[:, 0], noise[:, -1]
    kept = arrays.get("kept", np.zeros(0, dtype=bool))
    yield check_result(standard_normal(x_T), "x_T_standard_normal")
    yield check_result(norm_on_shell(x_n, x_T), "golden_noise_on_shell")
    yield check_result(kept_fraction_above(kept), "kept_fraction_above_floor")
