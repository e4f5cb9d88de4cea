"""The tiny digits graph as a module that other processes load by name (Celery workers,
``dagster job execute``, the scale-out benchmark): settings from the environment as in
``gn_dagster.definitions`` (GN_STORAGE_ROOT, GN_TRAIN_PROMPTS, GN_EXECUTOR, GN_DEVICE, ...),
with the tiny models of helpers.graph.

``GN_TEST_RENDEZVOUS`` (a folder; tests only) makes every step that loads the diffusion model
wait there until ``RENDEZVOUS_PARTIES`` steps have arrived (or ``RENDEZVOUS_SECONDS`` pass):
with two Celery workers of one task each, the first two noise steps then run at the same
time, which only both workers together can do. Steps are short on the tiny graph, so without
it one worker may take every step in turn."""

import os
import time
import uuid
from pathlib import Path

from dagster import Definitions, definitions

from gn_dagster.definitions import build_definitions
from gn_dagster.resources.models import DiffusionResource
from gn_dagster.settings import Settings
from helpers.graph import tiny_resources

RENDEZVOUS_PARTIES = 2
RENDEZVOUS_SECONDS = 120.0


class RendezvousDiffusion(DiffusionResource):
    """The diffusion resource whose ``load`` first waits at the folder ``rendezvous``."""

    rendezvous: str

    def load(self, url: str, device: str):
        folder = Path(self.rendezvous)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / uuid.uuid4().hex).touch()
        deadline = time.monotonic() + RENDEZVOUS_SECONDS
        while len(list(folder.iterdir())) < RENDEZVOUS_PARTIES and time.monotonic() < deadline:
            time.sleep(0.1)
        return super().load(url, device)


def rendezvous_resources(folder: str) -> dict:
    """tiny_resources() with the diffusion resource waiting at ``folder``."""
    resources = tiny_resources()
    diffusion = resources["diffusion"]
    return resources | {
        "diffusion": RendezvousDiffusion(
            kind=diffusion.kind, settings=diffusion.settings, rendezvous=folder
        )
    }


@definitions
def defs() -> Definitions:
    folder = os.environ.get("GN_TEST_RENDEZVOUS")
    resources = rendezvous_resources(folder) if folder else tiny_resources()
    return build_definitions(Settings.from_env(), **resources)
