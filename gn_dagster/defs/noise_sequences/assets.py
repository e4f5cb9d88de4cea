"""The noise-sequence dataset: re-denoise chains x_T -> x'_1 -> ... -> x'_n, per shard."""

import time
from dataclasses import asdict

import numpy as np
from dagster import (
    AssetDep,
    AssetExecutionContext,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import PositiveInt

from gn_dagster.automation import on_data_change
from gn_dagster.config import config_class, to_dataclass
from gn_dagster.metadata import truncation_metadata
from gn_dagster.partitions import prompt_shards
from gn_dagster.prompt_tables import read_prompts_frame
from gn_dagster.resources.models import ComputeResource, DiffusionResource, RewardResource
from gn_dagster.resources.storage import StorageResource
from gn_models.data.collect import CollectionConfig, collect_noise_sequences
from gn_models.data.noise_sequence_store import CHUNK_SIZE, shard_url, write_shard
from gn_models.data.noise_sequences import NoiseSequences, kept_at
from gn_models.sampling.gaussian_shell import noise_statistics, sample_norms
from gn_models.utils.digest import digest_arrays
from gn_models.utils.finite import require_finite
from gn_models.utils.images import image_grid, markdown_image

PREVIEW_COLUMNS = 16

NoiseSequencesConfig = config_class(
    "NoiseSequencesConfig",
    CollectionConfig,
    extra={"chunk_size": (PositiveInt, CHUNK_SIZE)},
    doc="Seeds, re-denoise and sampling settings of the collection (CollectionConfig), and "
    "the Zarr chunk length along the sample axis.",
)


def sequence_metadata(data, sampling: CollectionConfig) -> dict:
    """Counts, keep fractions, mean rewards per rewarded state, and how Gaussian the chain
    stays (mean ||x'_k|| / ||x_T|| per state k; x'_n's norm and entry statistics), for the UI."""
    meta = {
        "count": len(data),
        "kept": int(data.kept.sum()),
        "kept_fraction": float(data.kept.mean()),
        "kept_fraction_step_1": float(kept_at(data.reward, 1, sampling.margin).mean()),
        "mean_reward_gain": float((data.reward[:, -1] - data.reward[:, 0]).mean()),
    }
    meta |= {
        f"mean_reward_state_{k}": float(data.reward[:, k].mean()) for k in sampling.reward_steps()
    }
    x_T, last = data.noise[:, 0], data.noise[:, -1]
    norms = sample_norms(data.noise.reshape(-1, *data.noise.shape[2:])).reshape(len(data), -1)
    return meta | {
        "x_T_mean": float(x_T.mean()),
        "x_T_std": float(x_T.std()),
        "mean_abs_x_n_minus_x_T": float(np.abs(last - x_T).mean()),
        "norm_ratio_by_state": MetadataValue.json(
            [round(float(r), 4) for r in (norms / norms[:, :1]).mean(axis=0)]
        ),
        "x_n_statistics": MetadataValue.json(
            {k: round(v, 4) for k, v in noise_statistics(last, x_T).items()}
        ),
        "shape_noise": str(data.noise.shape),
    }


def require_finite_sequences(data: NoiseSequences, sampling: CollectionConfig, shard: str):
    """Stop before writing when a noise state or a computed filter reward is NaN or Inf
    (rewards of states not rewarded are NaN by design).

    Raises:
        NonFiniteError: naming the asset, the shard and the first bad sample.
    """
    samples = [f"prompt {p!r}, seed {s}" for p, s in zip(data.prompt, data.seed, strict=True)]
    where = f"noise_sequences[{shard}]"
    require_finite(data.noise, f"{where}: noise", samples)
    require_finite(data.reward[:, sampling.reward_steps()], f"{where}: filter reward", samples)


def preview(data: NoiseSequences) -> MetadataValue:
    """Images from x_T (top row) and from x'_n (bottom row) of the first samples."""
    grid = image_grid([data.image_standard[:PREVIEW_COLUMNS], data.image_golden[:PREVIEW_COLUMNS]])
    return MetadataValue.md(
        "Top: images sampled from x_T; bottom: from the re-denoised x'_n (same prompt, seed "
        "and sampler per column).\n\n" + markdown_image(grid, "x_T vs x'_n")
    )


@asset(
    group_name="noise_sequences",
    partitions_def=prompt_shards,
    deps=[AssetDep("prompts"), AssetDep("base_model"), AssetDep("filter_reward_model")],
    code_version="4",
    pool="gpu",
    automation_condition=on_data_change(),
    description=(
        "Noise sequences of one shard (the paper's noise prompt dataset): for each prompt and K "
        "seeds, the re-denoise chain x_T -> x'_1 -> ... -> x'_n (DDIM step at CFG w_l, DDIM "
        "inversion at w_w; every state rescaled to ||x_T|| unless renormalize is off), the "
        "filter rewards of images sampled from x_T, x'_n and the configured reward_states "
        "(every state when configured), images from x_T and x'_n, and `kept` = "
        "reward(x'_n) > reward(x_T) + m. One group per shard in a chunked, compressed Zarr v3 "
        "store; a shard appears only once complete. Data version = digest of the shard's "
        "arrays. Reruns when its prompts shard or a model changed."
    ),
)
def noise_sequences(
    context: AssetExecutionContext,
    config: NoiseSequencesConfig,
    storage: StorageResource,
    diffusion: DiffusionResource,
    filter_reward: RewardResource,
    compute: ComputeResource,
) -> MaterializeResult:
    shard = context.partition_key
    shard_prompts = read_prompts_frame(storage.prompts_path(shard))
    collection = to_dataclass(CollectionConfig, config)
    attrs = {
        "sampling": asdict(collection),
        "seeds_per_prompt": collection.seeds_per_prompt,
        "num_prompts": len(shard_prompts),
        "reward_steps": collection.reward_steps(),
    }
    store = storage.noise_sequence_store
    if not shard_prompts:
        context.log.warning(f"{shard} has no prompts; writing an empty shard.")
        stored = write_shard(store, shard, None, attrs=attrs)
        return MaterializeResult(
            data_version=DataVersion(digest_arrays({})),
            metadata={
                "path": MetadataValue.path(shard_url(store, shard)),
                "storage_version": stored,
                "count": 0,
                "kept": 0,
                "unet_calls": 0,
                "unet_rows": 0,
            },
        )
    backend = diffusion.load(storage.base_model_dir, compute.device)
    reward = filter_reward.load(storage.reward_dir("filter"), compute.device)
    start, calls, rows = time.perf_counter(), backend.unet_calls, backend.unet_rows  # cached
    data = collect_noise_sequences(backend, reward, shard_prompts, collection)
    seconds = time.perf_counter() - start
    attrs["reward"] = f"{reward.name} {reward.version}"
    require_finite_sequences(data, collection, shard)
    stored = write_shard(store, shard, data, config.chunk_size, attrs)
    return MaterializeResult(
        data_version=DataVersion(digest_arrays(data.arrays())),
        metadata={
            "path": MetadataValue.path(shard_url(store, shard)),
            "storage_version": stored,
            "num_prompts": len(shard_prompts),
            **truncation_metadata(backend, shard_prompts, context.log),
            **sequence_metadata(data, collection),
            "samples_per_second": round(len(data) / seconds, 2),
            "device": compute.torch_device(),
            "unet_calls": backend.unet_calls - calls,
            "unet_rows": backend.unet_rows - rows,
            "reward": attrs["reward"],
            "preview": preview(data),
        },
    )
