"""The noise prompt dataset: (x_T, golden x'_T) pairs by re-denoise sampling, per shard."""


import time

import numpy as np
from dagster import AssetDep, AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from gn_dagster.assets.prompts import read_prompts_frame
from gn_dagster.partitions import prompt_shards
from gn_dagster.resources import DigitsProfileResource, StorageResource
from gn_models.npd import SamplingConfig, collect_noise_pairs
from gn_models.npd_store import write_shard


class NoisePairsConfig(Config):
    seeds_per_prompt: int = 4  # K noise samples per prompt
    cfg_denoise: float = 5.5  # w_l
    cfg_inversion: float = 1.0  # w_w
    cfg_sample: float = 5.5  # CFG of the sampling run whose images are rewarded
    num_steps: int = 10  # DDIM steps
    margin: float = 0.0  # m in reward(x'_T) > reward(x_T) + m
    batch_size: int = 256  # samples per re-denoise batch
    chunk_size: int = 256  # Zarr chunk length along the sample axis


@asset(
    group_name="noise",
    partitions_def=prompt_shards,
    deps=[AssetDep("prompts"), AssetDep("base_model"), AssetDep("reward_model")],
    code_version="1",
    pool="gpu",
    description=(
        "Noise prompt dataset of one shard: for each prompt and K seeds, x_T and golden noise "
        "x'_T by re-denoise sampling (DDIM step at CFG w_l, DDIM inversion at w_w), images from "
        "both, their rewards and `kept` = reward(x'_T) > reward(x_T) + m. One group per shard "
        "in a chunked, compressed Zarr v3 store; a shard appears only once complete."
    ),
)
def noise_pairs(context: AssetExecutionContext, config: NoisePairsConfig,
                storage: StorageResource, profile: DigitsProfileResource) -> MaterializeResult:
    shard = context.partition_key
    shard_prompts = read_prompts_frame(storage.prompts_dir / f"{shard}.parquet")
    sampling = SamplingConfig(config.cfg_denoise, config.cfg_inversion, config.cfg_sample,
                              config.num_steps, config.margin)
    attrs = {"sampling": sampling.__dict__, "seeds_per_prompt": config.seeds_per_prompt,
             "num_prompts": len(shard_prompts)}
    if not shard_prompts:
        context.log.warning(f"{shard} has no prompts; writing an empty shard.")
        write_shard(storage.npd_store, shard, None, attrs=attrs)
        return MaterializeResult(metadata={"path": MetadataValue.path(str(storage.npd_store)),
                                           "count": 0, "kept": 0})
    backend = profile.load_backend(storage.base_model_dir)
    reward = profile.load_reward(storage.reward_model_dir)
    start = time.perf_counter()
    pairs = collect_noise_pairs(backend, reward, shard_prompts, config.seeds_per_prompt,
                                sampling, config.batch_size)
    seconds = time.perf_counter() - start
    attrs["reward"] = f"{reward.name} {reward.version}"
    path = write_shard(storage.npd_store, shard, pairs, config.chunk_size, attrs)
    gain = pairs.reward_golden - pairs.reward_standard
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(path)),
        "count": len(pairs),
        "num_prompts": len(shard_prompts),
        "kept": int(pairs.kept.sum()),
        "kept_fraction": float(pairs.kept.mean()),
        "mean_reward_standard": float(pairs.reward_standard.mean()),
        "mean_reward_golden": float(pairs.reward_golden.mean()),
        "mean_reward_gain": float(gain.mean()),
        "x_T_mean": float(pairs.x_T.mean()),
        "x_T_std": float(pairs.x_T.std()),
        "mean_abs_golden_minus_x_T": float(np.abs(pairs.x_golden - pairs.x_T).mean()),
        "shape_x_T": str(pairs.x_T.shape),
        "samples_per_second": round(len(pairs) / seconds, 2),
        "unet_calls": backend.unet_calls,
        "reward": attrs["reward"],
    })
