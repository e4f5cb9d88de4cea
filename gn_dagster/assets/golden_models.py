"""Golden-noise model assets: one trained checkpoint per model kind, all on every shard."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from accelerate import PartialState
from dagster import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from gn_dagster.automation import on_cron_if_changed
from gn_dagster.metadata import line_plot
from gn_dagster.partitions import registered_shards
from gn_dagster.profiles import ProfileResource
from gn_dagster.storage import StorageResource
from gn_models.utils.digest import digest_tree
from gn_models.utils.fsio import staged_write
from gn_models.golden_noise.base import GoldenNoiseModel
from gn_models.golden_noise.film_noise_net import FiLMNoiseNet, FiLMNoiseNetConfig
from gn_models.npd import kept_at
from gn_models.data.noise_sequence_store import open_shard, read_shard
from gn_models.golden_noise.npnet import NPNet, NPNetConfig, resolve_residual
from gn_models.golden_noise.noise_gru import NoiseGRU, NoiseGRUConfig
from gn_models.golden_noise.noise_transformer import (
    NoiseTransformer,
    NoiseTransformerConfig,
)
from gn_models.golden_noise.training import TrainingConfig, train_noise_model

GROUP = "golden_noise_models"


class TrainingConfig(Config):
    steps: int = 1500  # maximum optimiser steps
    batch_size: int = 64
    learning_rate: float = 1e-3
    val_fraction: float = 0.1
    eval_every: int = 100
    patience: int = 4  # evaluations without improvement before early stopping
    seed: int = 0

    def training(self) -> TrainingConfig:
        return TrainingConfig(
            self.steps,
            self.batch_size,
            self.learning_rate,
            self.val_fraction,
            self.eval_every,
            self.patience,
            self.seed,
        )


class NPNetAssetConfig(TrainingConfig):
    learning_rate: float = 3e-3
    residual: str = "auto"  # "auto": Swin-T when its weights are local, else "conv"
    svd_dim: int = 64  # 0: the reference width min(aH, bW)
    svd_hidden: int = 64
    svd_out_hidden: int = 256
    conv_hidden: int = 32


class FiLMAssetConfig(TrainingConfig):
    hidden: int = 64
    num_blocks: int = 3


class TransformerAssetConfig(TrainingConfig):
    steps: int = 1500  # one random transition per sequence per step
    learning_rate: float = 5e-4
    patch_size: int = 2
    dim: int = 64
    depth: int = 2
    heads: int = 4


class GRUAssetConfig(TrainingConfig):
    steps: int = 400  # each step unrolls the GRU over all n transitions
    batch_size: int = 32
    learning_rate: float = 2e-3
    hidden: int = 48
    num_blocks: int = 2
    gru_dim: int = 96
    residual: bool = True
    predict_variance: bool = False
    kl_weight: float = 1e-3


def load_training_sequences(store, shard_keys: list[str], one_step: bool) -> dict[str, np.ndarray]:
    """Kept sequences of the shards ``shard_keys``: one-step models get [x_T, x'_1] kept by
    reward(x'_1) > reward(x_T) + m, sequence models the whole chain kept by ``kept``.

    Raises:
        IncompleteShardError: a shard has not been collected (the message names it).
        ValueError: no samples at all, or shards labelled by different rewards.
    """
    attrs = {key: dict(open_shard(store, key).attrs) for key in shard_keys}
    shards = [key for key in shard_keys if attrs[key]["count"] > 0]
    if not shards:
        raise ValueError(f"The noise-pair store {store} holds no samples: add prompts.")
    rewards = {key: attrs[key].get("reward") for key in shards}
    if len(set(rewards.values())) > 1:  # e.g. HPSv2 v2.0 and v2.1 keep different pairs
        raise ValueError(
            f"The shards of {store} were labelled by different rewards: {rewards}. "
            "Rematerialize `noise_pairs` for the shards whose reward is not the profile's."
        )
    parts = []
    for key in shards:
        data = read_shard(store, key, ["noise", "reward", "prompt", "kept"])
        if one_step:
            keep = kept_at(data["reward"], 1, attrs[key]["sampling"]["margin"])
            parts.append((data["noise"][keep, :2], data["prompt"][keep]))
        else:
            parts.append((data["noise"][data["kept"]], data["prompt"][data["kept"]]))
    return {
        "noise": np.concatenate([p[0] for p in parts]),
        "prompt": np.concatenate([p[1] for p in parts]).astype(str),
    }


def train_golden_model(
    spec: "ModelSpec",
    config: TrainingConfig,
    storage: StorageResource,
    profile: ProfileResource,
    shard_keys: list[str],
) -> MaterializeResult:
    """Shared body of the model assets: data of ``shard_keys``, prompts, build, train, save,
    metadata; data version = digest of the checkpoint files.

    Under ``accelerate launch`` (several processes, one GPU each) every process trains its
    share of each batch (DDP) and only the main process writes the checkpoint.
    """
    name, build, one_step = spec.name, spec.build, spec.one_step
    data = load_training_sequences(storage.npd_store, shard_keys, one_step)
    backend = profile.load_backend(storage.base_model_dir)
    texts, prompt_index = np.unique(data["prompt"], return_inverse=True)
    embeds = backend.encode_prompts(list(texts))
    torch.manual_seed(config.seed)
    embeds = embeds.float()
    model: GoldenNoiseModel = build(
        config, backend.latent_shape, embeds, data["noise"].shape[1] - 1
    )
    log = train_noise_model(
        model,
        torch.from_numpy(data["noise"]),
        torch.from_numpy(prompt_index),
        embeds,
        config.training(),
        device=profile.device,
    )
    directory, version = storage.checkpoint_dir(name), None
    if PartialState().is_main_process:
        with staged_write(directory) as tmp:
            model.cpu().save(
                tmp,
                training={
                    "best_val_loss": log.best_val_loss,
                    "best_step": log.best_step,
                    "identity_val_loss": log.identity_val_loss,
                    "num_train": log.num_train,
                    "num_val": log.num_val,
                    "train_seconds": log.seconds,
                },
            )
            version = DataVersion(digest_tree(tmp))
    return MaterializeResult(
        data_version=version,
        metadata={
            "path": MetadataValue.path(directory),
            "model": model.kind,
            "config": MetadataValue.json(model.save_config()),
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_sequences": log.num_train,
            "val_sequences": log.num_val,
            "sequence_length": int(data["noise"].shape[1]),
            "best_val_loss": log.best_val_loss,
            "best_step": log.best_step,
            "stopped_early": log.stopped_early,
            "identity_val_loss": log.identity_val_loss,
            "train_seconds": round(log.seconds, 1),
            "loss_curve": line_plot(
                {
                    "train": (log.train_steps, log.train_loss),
                    "validation": (log.val_steps, log.val_loss),
                    "identity (no change)": ([1, log.train_steps[-1]], [log.identity_val_loss] * 2),
                },
                f"{name} loss",
                "step",
                "loss",
            ),
        },
    )


@dataclass(frozen=True)
class ModelSpec:
    """One golden-noise model kind: asset name, config class, builder, training data kind."""

    name: str
    config_class: type
    build: Callable
    one_step: bool  # trained on (x_T, x'_1) pairs, else on whole sequences
    description: str


def model_asset(spec: ModelSpec) -> AssetsDefinition:
    """A trained-checkpoint asset for one model kind (depends on every shard)."""
    config_class = spec.config_class

    @asset(
        name=spec.name,
        group_name=GROUP,
        deps=[
            AssetDep("noise_pairs", partition_mapping=AllPartitionMapping()),
            AssetDep("base_model"),
        ],
        code_version="2",
        pool="gpu",
        automation_condition=on_cron_if_changed(),
        description=spec.description
        + " Trains on every registered shard; retrains at the GN_TRAIN_CRON tick (default "
        "nightly) when its inputs changed.",
    )
    def _model(
        context: AssetExecutionContext,
        config: config_class,
        storage: StorageResource,
        profile: ProfileResource,
    ) -> MaterializeResult:
        shards = registered_shards(context.instance)
        return train_golden_model(spec, config, storage, profile, shards)

    return _model


# Builders: (asset config, latent shape (C, H, W), PromptEmbeds of the training prompts, n).
def build_npnet(c: NPNetAssetConfig, shape, embeds, n) -> NPNet:
    return NPNet(
        NPNetConfig(
            channels=shape[0],
            height=shape[1],
            width=shape[2],
            prompt_tokens=embeds.prompt_embeds.shape[1],
            embed_dim=embeds.prompt_embeds.shape[2],
            svd_dim=c.svd_dim,
            svd_hidden=c.svd_hidden,
            svd_out_hidden=c.svd_out_hidden,
            residual=resolve_residual(c.residual),
            conv_hidden=c.conv_hidden,
        ),
        pretrained_residual=True,
    )


def build_film(c: FiLMAssetConfig, shape, embeds, n) -> FiLMNoiseNet:
    return FiLMNoiseNet(FiLMNoiseNetConfig(shape[0], embeds.pooled.shape[1], c.hidden, c.num_blocks))


def build_transformer(c: TransformerAssetConfig, shape, embeds, n) -> NoiseTransformer:
    return NoiseTransformer(
        NoiseTransformerConfig(
            channels=shape[0],
            embed_dim=embeds.prompt_embeds.shape[2],
            patch_size=c.patch_size,
            dim=c.dim,
            depth=c.depth,
            heads=c.heads,
            num_steps=n,
        )
    )


def build_gru(c: GRUAssetConfig, shape, embeds, n) -> NoiseGRU:
    return NoiseGRU(
        NoiseGRUConfig(
            channels=shape[0],
            embed_dim=embeds.pooled.shape[1],
            hidden=c.hidden,
            num_blocks=c.num_blocks,
            gru_dim=c.gru_dim,
            num_steps=n,
            residual=c.residual,
            predict_variance=c.predict_variance,
            kl_weight=c.kl_weight,
        )
    )


NPNET = ModelSpec(
    "npnet",
    NPNetAssetConfig,
    build_npnet,
    True,
    "NPNet (arXiv:2411.09502): SVD branch + AdaGroupNorm text injection + residual "
    "branch (Swin-T when its weights are local, else conv), trained with MSE on kept "
    "one-step pairs (x_T, x'_1).",
)
FILM = ModelSpec(
    "film_noise_net",
    FiLMAssetConfig,
    build_film,
    True,
    "FiLMNoiseNet: a small conv net with FiLM on the pooled prompt embedding, "
    "trained with MSE on kept one-step pairs (x_T, x'_1); a baseline for NPNet.",
)
TRANSFORMER = ModelSpec(
    "noise_transformer",
    TransformerAssetConfig,
    build_transformer,
    False,
    "NoiseTransformer: noise patches as tokens, cross-attention to the "
    "prompt; learns the re-denoise transition on kept n-step sequences and rolls "
    "it forward n steps at inference.",
)
GRU = ModelSpec(
    "noise_gru",
    GRUAssetConfig,
    build_gru,
    False,
    "NoiseGRU: FiLM-conditioned CNN encoder + GRU over re-denoise steps "
    "(residual and optional variance prediction); rolls forward n steps.",
)
MODEL_SPECS = {spec.name: spec for spec in (NPNET, FILM, TRANSFORMER, GRU)}
npnet, film_noise_net, noise_transformer, noise_gru = map(model_asset, MODEL_SPECS.values())
MODEL_ASSET_NAMES = list(MODEL_SPECS)
