"""Model assets of the sdxl profile: the pretrained diffusion pipeline and HPSv2.

Same keys as the digits profile's trained models (``base_model``, ``reward_model``), so the
rest of the graph is shared. Weights are not copied into the artifact store: each asset
verifies that the configured weights load, and records what was loaded (``model.json``,
``reward.json``); downstream assets refuse a profile that no longer matches the record.
"""

import json
from pathlib import Path

import torch
from dagster import DataVersion, MaterializeResult, MetadataValue, asset
from huggingface_hub import try_to_load_from_cache

from gn_dagster.profiles import BASE_MODEL_FILE, REWARD_FILE, SDXLProfileResource
from gn_dagster.storage import StorageResource
from gn_models.utils.digest import digest_tree
from gn_models.utils.fsio import staged_write
from gn_models.rewards.hpsv2 import find_hpsv2_checkpoint

GROUP = "models"


def write_record(url: str, name: str, record: dict) -> DataVersion:
    """Publish ``record`` as JSON file ``name`` inside the folder at ``url``; the data
    version is the record's digest (it names the weights' snapshot)."""
    with staged_write(url) as tmp:
        tmp.mkdir(parents=True)
        (tmp / name).write_text(json.dumps(record, indent=2))
        return DataVersion(digest_tree(tmp))


def model_snapshot(model: str) -> str:
    """The folder the weights load from: ``model`` itself when local, else the Hugging Face
    cache snapshot (named by the commit hash), so a new download changes the record."""
    if Path(model).is_dir():
        return str(Path(model).resolve())
    found = try_to_load_from_cache(model, "model_index.json")
    return str(Path(found).parent) if isinstance(found, str) else ""


@asset(
    name="base_model",
    group_name=GROUP,
    code_version="1",
    pool="gpu",
    description=(
        "Pretrained diffusers pipeline (SDXL and its family, or SD 1.5/2.1) from a local "
        "directory or the Hugging Face cache: loads it once to verify the weights and records "
        "the model id, pipeline class, latent shape and prompt_embeds widths."
    ),
)
def pretrained_base_model(
    storage: StorageResource, profile: SDXLProfileResource
) -> MaterializeResult:
    backend = profile.backend()
    embeds = backend.encode_prompts(["a photo of a cat"])
    record = {
        "model": profile.model,
        "snapshot": model_snapshot(profile.model),
        "variant": profile.variant,
        "pipeline": type(backend.pipe).__name__,
        "dtype": str(backend.dtype).removeprefix("torch."),
        "latent_shape": list(backend.latent_shape),
        "prompt_embeds_shape": list(embeds.prompt_embeds.shape[1:]),
        "pooled_dim": int(embeds.pooled.shape[1]),
        "unet_parameters": sum(p.numel() for p in backend.pipe.unet.parameters()),
        "sampler": profile.sampler,
        "scheduler": backend.scheduler_config.get("_class_name", ""),
    }
    version = write_record(storage.base_model_dir, BASE_MODEL_FILE, record)
    return MaterializeResult(
        data_version=version,
        metadata={
            "path": MetadataValue.path(storage.base_model_dir),
            **{k: str(v) if isinstance(v, list) else v for k, v in record.items()},
        },
    )


@asset(
    name="reward_model",
    group_name=GROUP,
    code_version="1",
    pool="gpu",
    description=(
        "HPSv2 (open_clip ViT-H-14 with the HPS_v2 or HPS_v2.1 checkpoint, from a local path "
        "or the Hugging Face cache xswu/HPSv2): loads it once to verify and records name, "
        "version and checkpoint. Score = cosine of normalised image and text features."
    ),
)
def pretrained_reward_model(
    storage: StorageResource, profile: SDXLProfileResource
) -> MaterializeResult:
    reward = profile.reward()
    checkpoint = find_hpsv2_checkpoint(profile.hpsv2_version, profile.hpsv2_checkpoint)
    with torch.no_grad():
        check = reward.score(torch.full((1, 3, 64, 64), 0.5), ["a grey square"], [None])
    record = {
        "name": reward.name,
        "version": reward.version,
        "checkpoint": str(checkpoint),
        "arch": profile.hpsv2_arch,
    }
    version = write_record(storage.reward_model_dir, REWARD_FILE, record)
    return MaterializeResult(
        data_version=version,
        metadata={
            "path": MetadataValue.path(storage.reward_model_dir),
            "reward": f"{reward.name} {reward.version}",
            "checkpoint": MetadataValue.path(str(checkpoint)),
            "arch": profile.hpsv2_arch,
            "score_of_grey_square": float(check[0]),
        },
    )
