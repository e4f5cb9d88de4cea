"""Golden-noise model assets: one trained checkpoint per registered model kind
(``gn_models.golden_noise.registry``), each trained on every shard.

The asset, its run config (``<Model>AssetConfig``: the model's config fields but its
``data_fields``, then ``TrainingConfig`` with the model's ``training_defaults``) and its
description come from the model class, so a new model needs no code here.
"""

import inspect

import pandas as pd
import torch
from accelerate import PartialState
from dagster import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    DataVersion,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
    definitions,
)

from gn_dagster.automation import on_cron_if_changed
from gn_dagster.config import config_class, to_dataclass
from gn_dagster.metadata import line_plot, table
from gn_dagster.partitions import registered_shards
from gn_dagster.resources.models import ComputeResource, DiffusionResource, RewardResource
from gn_dagster.resources.storage import StorageResource
from gn_dagster.settings import current_settings
from gn_models.data.training_data import OneStepTargets, load_training_sequences
from gn_models.golden_noise.base import GoldenNoiseModel
from gn_models.golden_noise.registry import MODEL_CLASSES
from gn_models.golden_noise.rollout import RolloutSelection
from gn_models.golden_noise.training import TrainingConfig, TrainingLog, train_golden_model
from gn_models.utils.digest import digest_tree
from gn_models.utils.versions import staged_folder

GROUP = "golden_noise_models"


def asset_config_class(cls: type[GoldenNoiseModel]) -> type[Config]:
    """The Dagster run config of ``cls``'s asset (see the module docstring)."""
    targets = (OneStepTargets,) if cls.one_step else ()
    return config_class(
        f"{cls.__name__}AssetConfig",
        cls.config_class,
        TrainingConfig,
        *targets,
        RolloutSelection,
        defaults=cls.training_defaults,
        exclude=cls.data_fields,
        doc=f"{cls.config_class.__name__} (architecture), TrainingConfig (optimiser), "
        + ("OneStepTargets (the chain state learned), " if cls.one_step else "")
        + "RolloutSelection (rollout length per CFG scale and checkpoint, chosen on validation "
        "by the filter reward).",
    )


def train_checkpoint(
    cls: type[GoldenNoiseModel],
    config: Config,
    storage: StorageResource,
    diffusion: DiffusionResource,
    filter_reward: RewardResource,
    device: str,
    shard_keys: list[str],
) -> MaterializeResult:
    """Body of every model asset: kept sequences of ``shard_keys``, train, save, metadata;
    data version = digest of the checkpoint files, which hold content only (weights, config,
    losses), so retraining to the same weights gives the same version. Timings and the torch
    CPU threads go to the metadata only.

    Under ``accelerate launch`` (several processes, one GPU each) every process trains its
    share of each batch (DDP) and only the main process writes the checkpoint; the others
    wait for it and return no data version (``None``) and no ``storage_version``.
    """
    targets = to_dataclass(OneStepTargets, config) if cls.one_step else None
    data = load_training_sequences(storage.noise_sequence_store, shard_keys, targets)
    backend = diffusion.load(storage.base_model_dir, device)
    model, log = train_golden_model(
        cls,
        to_dataclass(cls.config_class, config),
        to_dataclass(TrainingConfig, config),
        backend,
        data["noise"],
        data["prompt"],
        device=device,
        labels=data["label"],
        reward=filter_reward.load(storage.reward_dir("filter"), device),
        selection=to_dataclass(RolloutSelection, config),
    )
    directory, version, stored = storage.checkpoint_dir(cls.kind), None, None
    state = PartialState()
    if state.is_main_process:
        with staged_folder(directory) as stage:
            model.cpu().save(stage.path, training=log.summary())
            version, stored = DataVersion(digest_tree(stage.path)), stage.version
    state.wait_for_everyone()  # no process returns before the checkpoint is published
    return MaterializeResult(
        data_version=version,
        metadata={
            "path": MetadataValue.path(directory),
            "storage_version": stored,
            "model": model.kind,
            "config": MetadataValue.json(model.save_config()),
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_sequences": log.num_train,
            "val_sequences": log.num_val,
            "sequence_length": int(data["noise"].shape[1]),
            "best_val_loss": log.best_val_loss,
            "best_step": log.best_step,
            "chosen_step": log.chosen_step or log.best_step,
            "rollout_lengths": MetadataValue.json(model.rollout_lengths),
            "stopped_early": log.stopped_early,
            "identity_val_loss": log.identity_val_loss,
            "train_seconds": round(log.seconds, 1),
            "num_processes": log.num_processes,
            "torch_threads": torch.get_num_threads(),
            "loss_curve": loss_plot(log, cls.kind),
            **rollout_metadata(log),
        },
    )


def loss_plot(log: TrainingLog, name: str) -> MetadataValue:
    return line_plot(
        {
            "train": (log.train_steps, log.train_loss),
            "validation": (log.val_steps, log.val_loss),
            "identity (no change)": ([1, log.train_steps[-1]], [log.identity_val_loss] * 2),
        },
        f"{name} loss",
        "step",
        "loss",
    )


def rollout_metadata(log: TrainingLog) -> dict:
    """The validation filter reward of every rollout length per CFG scale of the kept
    checkpoint (empty when the checkpoint was chosen by MSE)."""
    if not log.rollout_rewards:
        return {}
    frame = pd.DataFrame(log.rollout_rewards).rename_axis("rollout_length").reset_index()
    return {"validation_filter_reward_by_rollout": table(frame.round(5))}


def model_asset(cls: type[GoldenNoiseModel], train_cron: str, timezone: str) -> AssetsDefinition:
    """The trained-checkpoint asset of ``cls`` (depends on every shard)."""
    asset_config = asset_config_class(cls)

    @asset(
        name=cls.kind,
        group_name=GROUP,
        deps=[
            AssetDep("noise_sequences", partition_mapping=AllPartitionMapping()),
            AssetDep("base_model"),
            AssetDep("filter_reward_model"),
        ],
        code_version="5",
        pool="gpu",
        automation_condition=on_cron_if_changed(train_cron, timezone),
        description=inspect.getdoc(cls)
        + "\n\nTrains on every registered shard; retrains at the GN_TRAIN_CRON tick (default "
        "nightly) when its inputs changed.",
    )
    def _model(
        context: AssetExecutionContext,
        config: asset_config,
        storage: StorageResource,
        diffusion: DiffusionResource,
        filter_reward: RewardResource,
        compute: ComputeResource,
    ) -> MaterializeResult:
        shards = registered_shards(context.instance)
        return train_checkpoint(
            cls, config, storage, diffusion, filter_reward, compute.device, shards
        )

    return _model


@definitions
def defs() -> Definitions:
    settings = current_settings()
    return Definitions(
        assets=[
            model_asset(cls, settings.train_cron, settings.cron_timezone)
            for cls in MODEL_CLASSES.values()
        ]
    )
