"""The tiny digits graph as a module that other processes load by name (Celery workers,
``dagster job execute``, the scale-out benchmark): settings from the environment as in
``gn_dagster.definitions`` (GN_STORAGE_ROOT, GN_TRAIN_PROMPTS, GN_EXECUTOR, GN_DEVICE, ...),
with the tiny models of helpers.graph."""

from dagster import Definitions, definitions

from gn_dagster.definitions import build_definitions
from gn_dagster.settings import Settings
from helpers.graph import tiny_resources


@definitions
def defs() -> Definitions:
    return build_definitions(Settings.from_env(), **tiny_resources())
