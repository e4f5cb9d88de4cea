"""The Definitions: every asset, job and resource of the golden-noise graph.

``GN_PROFILE`` picks the profile: ``digits`` (default; trains its own small models on CPU) or
``sdxl`` (a pretrained diffusers pipeline and HPSv2; see the README for its variables).
"""

import os

from dagster import Definitions, EnvVar, load_assets_from_modules

from gn_dagster.assets import (
    base_models,
    evaluation,
    golden_models,
    noise_pairs,
    pretrained,
    prompts,
)
from gn_dagster.automation import automation_sensor
from gn_dagster.checks import ASSET_CHECKS
from gn_dagster.executors import executor_from_env
from gn_dagster.jobs import JOBS
from gn_dagster.profiles import DigitsProfileResource, ProfileResource, SDXLProfileResource
from gn_dagster.resources import PromptSourceResource
from gn_dagster.schedules import observe_prompt_sources_schedule
from gn_dagster.sensors import prompt_sensor
from gn_dagster.storage import StorageResource, default_storage_root

SHARED_ASSETS = [prompts, noise_pairs, golden_models, evaluation]
PROFILES = ("digits", "sdxl")
# SDXL profile settings read from the environment: field -> variable.
SDXL_ENV = {
    "model": "GN_SDXL_MODEL",
    "variant": "GN_SDXL_VARIANT",
    "sampler": "GN_SDXL_SAMPLER",
    "hpsv2_version": "GN_HPSV2_VERSION",
    "hpsv2_checkpoint": "GN_HPSV2_CHECKPOINT",
}


def build_definitions(
    storage_root: str | None = None,
    train_prompts: str = "",
    eval_prompts: str = "",
    device: str = "auto",
    profile: ProfileResource | None = None,
) -> Definitions:
    """Definitions with explicit resources (tests point them at a temporary folder).

    ``profile``: a ``DigitsProfileResource`` (default, with ``device``) or an
    ``SDXLProfileResource``; it also selects which ``base_model`` / ``reward_model`` assets
    (trained here or pretrained) the graph uses.
    """
    profile = profile or DigitsProfileResource(device=device)
    models = pretrained if isinstance(profile, SDXLProfileResource) else base_models
    return Definitions(
        assets=load_assets_from_modules([*SHARED_ASSETS, models]),
        asset_checks=ASSET_CHECKS,
        jobs=JOBS,
        sensors=[prompt_sensor, automation_sensor],
        schedules=[observe_prompt_sources_schedule],
        executor=executor_from_env(),
        resources={
            "storage": StorageResource(root=storage_root or default_storage_root()),
            "prompt_source": PromptSourceResource(train_path=train_prompts, eval_path=eval_prompts),
            "profile": profile,
        },
    )


def profile_from_env() -> ProfileResource:
    """The profile named by GN_PROFILE, configured from GN_DEVICE and the SDXL variables.

    Raises:
        ValueError: GN_PROFILE is not one of ``PROFILES``.
    """
    name = os.environ.get("GN_PROFILE", "digits")
    device = os.environ.get("GN_DEVICE", "auto")
    if name == "digits":
        return DigitsProfileResource(device=device)
    if name == "sdxl":
        settings = {f: EnvVar(var) for f, var in SDXL_ENV.items() if os.environ.get(var)}
        return SDXLProfileResource(device=device, **settings)
    raise ValueError(f"GN_PROFILE={name!r} is not a profile; use one of {PROFILES}.")


defs = build_definitions(
    train_prompts=os.environ.get("GN_TRAIN_PROMPTS", ""),
    eval_prompts=os.environ.get("GN_EVAL_PROMPTS", ""),
    profile=profile_from_env(),
)
