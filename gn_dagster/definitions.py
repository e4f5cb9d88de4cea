"""The Definitions: every asset, job and resource of the golden-noise graph."""

from __future__ import annotations

import os

from dagster import Definitions, load_assets_from_modules

from gn_dagster.assets import base_models, evaluation, golden_models, noise_pairs, prompts
from gn_dagster.jobs import JOBS
from gn_dagster.resources import (
    DigitsProfileResource,
    PromptSourceResource,
    StorageResource,
    default_storage_root,
)

ASSETS = load_assets_from_modules([prompts, base_models, noise_pairs, golden_models, evaluation])


def build_definitions(
    storage_root: str | None = None,
    train_prompts: str = "",
    eval_prompts: str = "",
    device: str = "auto",
) -> Definitions:
    """Definitions with explicit resources (tests point them at a temporary folder)."""
    return Definitions(
        assets=ASSETS,
        jobs=JOBS,
        resources={
            "storage": StorageResource(root=storage_root or default_storage_root()),
            "prompt_source": PromptSourceResource(train_path=train_prompts, eval_path=eval_prompts),
            "profile": DigitsProfileResource(device=device),
        },
    )


defs = build_definitions(
    train_prompts=os.environ.get("GN_TRAIN_PROMPTS", ""),
    eval_prompts=os.environ.get("GN_EVAL_PROMPTS", ""),
    device=os.environ.get("GN_DEVICE", "auto"),
)
