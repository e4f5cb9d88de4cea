"""The Definitions of the golden-noise graph.

The graph lives in ``gn_dagster/defs/``, one folder per domain (prompts, models,
noise_sequences, golden_noise, evaluation) plus the jobs and the automation sensor, and is
loaded by ``dagster.load_from_defs_folder`` (Dagster's ``dg`` project layout). It is the same
on every profile. Resources and the executor come from ``Settings`` (the environment by
default): the profile picks the diffusion backend and the filter and judge rewards. ``defs``
is built lazily, when Dagster (or a script) first asks for it.
"""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions, definitions, load_from_defs_folder

from gn_dagster.executors import executor_by_name
from gn_dagster.profiles import profile_resources
from gn_dagster.resources.models import ComputeResource, RegisteredModelResource
from gn_dagster.resources.prompt_source import PromptSourceResource
from gn_dagster.resources.storage import StorageResource
from gn_dagster.settings import Settings, settings_in_effect


def build_definitions(settings: Settings | None = None, **resources) -> Definitions:
    """The graph with the resources and executor of ``settings`` (default: from the
    environment); keyword ``resources`` replace those of the profile (tests use tiny ones).

    Raises:
        ValueError: an unknown profile or executor, or a bad setting (the message says which).
    """
    settings = settings or Settings.from_env()
    with settings_in_effect(settings):
        graph = load_from_defs_folder(path_within_project=Path(__file__).parent)
    base = {
        "storage": StorageResource(root=settings.storage_root),
        "prompt_source": PromptSourceResource(
            train_path=settings.train_prompts,
            eval_path=settings.eval_prompts,
            num_shards=settings.num_shards,
        ),
        "compute": ComputeResource(device=settings.device, threads=settings.threads),
        **profile_resources(settings),
    }
    resources = base | resources
    check_model_settings(resources)
    executor = executor_by_name(settings.executor, settings.executor_config)
    return Definitions.merge(graph, Definitions(resources=resources, executor=executor))


def check_model_settings(resources: dict) -> None:
    """Build each model resource's config now, so an unknown kind or setting fails when the
    definitions load, not in the first run.

    Raises:
        ValueError: the message names the resource key, the kind or setting, and the choices.
    """
    for key, resource in resources.items():
        if isinstance(resource, RegisteredModelResource):
            try:
                resource.config()
            except ValueError as error:
                raise ValueError(f"Resource `{key}`: {error}") from None


@definitions
def defs() -> Definitions:
    return build_definitions()
