"""The golden-noise model asset: trained on the kept pairs of every shard."""


import numpy as np
import torch
from dagster import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)

from gn_dagster.atomic import atomic_path
from gn_dagster.metadata import line_plot
from gn_dagster.partitions import SHARD_KEYS
from gn_dagster.resources import DigitsProfileResource, StorageResource
from gn_models.noise_net import FiLMNoiseNet, NoiseNetConfig
from gn_models.npd_store import open_shard, read_shard
from gn_models.train_noise_model import NoiseModelTrainingConfig, train_noise_model


class NPNetConfig(Config):
    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 1e-3
    val_fraction: float = 0.1
    hidden: int = 64
    num_blocks: int = 3
    seed: int = 0


def load_kept_pairs(store) -> dict[str, np.ndarray]:
    """x_T, x_golden and prompt of the kept rows of every shard (all shards must be complete)."""
    arrays = [read_shard(store, key, ["x_T", "x_golden", "prompt", "kept"])
              for key in SHARD_KEYS if open_shard(store, key).attrs["count"] > 0]
    if not arrays:
        raise ValueError(f"The noise-pair store {store} holds no samples: add prompts.")
    kept = np.concatenate([a["kept"] for a in arrays])
    return {name: np.concatenate([a[name] for a in arrays])[kept]
            for name in ("x_T", "x_golden", "prompt")}


@asset(
    group_name="golden_noise_model",
    deps=[AssetDep("noise_pairs", partition_mapping=AllPartitionMapping()), AssetDep("base_model")],
    code_version="1",
    pool="gpu",
    description=(
        "Golden-noise model trained with MSE(model(x_T, c), x'_T) on the kept pairs of all "
        "shards (accelerate, 90/10 validation split). First version: FiLMNoiseNet, a small conv "
        "net conditioned on the pooled prompt embedding; checkpoint as safetensors + JSON config."
    ),
)
def npnet(context: AssetExecutionContext, config: NPNetConfig, storage: StorageResource,
          profile: DigitsProfileResource) -> MaterializeResult:
    data = load_kept_pairs(storage.npd_store)
    backend = profile.load_backend(storage.base_model_dir)
    texts, prompt_index = np.unique(data["prompt"].astype(str), return_inverse=True)
    embeds = backend.encode_prompts(list(texts))
    channels = backend.latent_shape[0]
    torch.manual_seed(config.seed)
    model = FiLMNoiseNet(NoiseNetConfig(channels, embeds.pooled.shape[-1], config.hidden,
                                        config.num_blocks))
    log = train_noise_model(
        model, torch.from_numpy(data["x_T"]), torch.from_numpy(data["x_golden"]),
        torch.from_numpy(prompt_index), embeds,
        NoiseModelTrainingConfig(config.steps, config.batch_size, config.learning_rate,
                                 config.val_fraction, seed=config.seed),
        device=profile.device,
    )
    with atomic_path(storage.npnet_dir) as tmp:
        model.cpu().save(tmp, training={"val_loss": log.val_loss[-1],
                                        "identity_val_loss": log.identity_val_loss,
                                        "num_train": log.num_train, "num_val": log.num_val})
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(storage.npnet_dir)),
        "model": FiLMNoiseNet.kind,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_pairs": log.num_train,
        "val_pairs": log.num_val,
        "val_loss": log.val_loss[-1],
        "identity_val_loss": log.identity_val_loss,
        "train_seconds": round(log.seconds, 1),
        "loss_curve": line_plot(
            {"train": (log.train_steps, log.train_loss), "validation": (log.val_steps, log.val_loss),
             "identity (x'_T = x_T)": ([1, log.train_steps[-1]], [log.identity_val_loss] * 2)},
            "golden-noise model loss", "step", "MSE"),
    })
