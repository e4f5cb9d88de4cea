"""The model resources: the diffusion backend, the filter and judge rewards, and the device.

``diffusion``, ``filter_reward`` and ``judge_reward`` each name a registered class by ``kind``
(``gn_models.backends.registry``, ``gn_models.rewards.registry``) and hold its settings, which
build the class's config dataclass by keyword. A profile (``gn_dagster.profiles``) is a choice
of the three. ``compute`` holds the torch device, set per run
(``resources.compute.config.device``) to place each run on its own GPU, and the torch CPU
threads that every run uses (``resources.compute.config.threads``).
"""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from gn_dagster.config import dataclass_from_dict
from gn_models.backends.base import DiffusionBackend
from gn_models.backends.registry import backend_class
from gn_models.rewards.base import RewardModel
from gn_models.rewards.registry import reward_class
from gn_models.types import PreparedModel
from gn_models.utils.device import machine_threads, resolve_device, set_cpu_threads
from gn_models.utils.digest import digest_tree
from gn_models.utils.versions import localize, staged_folder


class ComputeResource(ConfigurableResource):
    """Where torch computes in a run.

    ``device``: "auto" (CUDA when available), "cpu" or "cuda:N".
    ``threads``: torch's CPU threads (``torch.set_num_threads``) while a run uses this
    resource, restored afterwards. CPU float reductions can depend on the thread count, so
    every run sets it explicitly: the default 0 means ``machine_threads()`` (this machine's
    cores, at most 8), the same in every run on a machine whatever the launcher
    (``accelerate launch`` sets OMP_NUM_THREADS=1) or what ran before in the process. Set
    1 when the multiprocess executor runs several steps at once on few cores. Measured on a
    2-core machine (digits UNet, 960 images, 4 steps): 1 thread 17 s, 2 threads 8 s.
    """

    device: str = "auto"
    threads: int = Field(default=0, ge=0)
    _previous_threads: int = PrivateAttr(default=0)

    def torch_device(self) -> str:
        return resolve_device(self.device)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Set the run's torch CPU threads."""
        self._previous_threads = set_cpu_threads(self.threads or machine_threads())

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        """Restore the threads of the process (in-process runs share it with their caller)."""
        set_cpu_threads(self._previous_threads)


class RegisteredModelResource(ConfigurableResource):
    """A registered model class (``kind``) with its settings; prepared into and loaded from
    a folder of the storage."""

    kind: str
    settings: dict[str, Any] = {}

    def model_class(self) -> type:
        raise NotImplementedError

    def config(self):
        """The class's config dataclass built from ``settings`` (errors name the resource)."""
        return dataclass_from_dict(
            self.model_class().config_class, dict(self.settings), f"{self.kind} settings"
        )

    def prepare(self, url: str, device: str) -> tuple[PreparedModel, str]:
        """Prepare the model into the folder at ``url`` (staged, then published whole);
        returns what it reported and the folder's digest."""
        with staged_folder(url) as stage:
            prepared = self.model_class().prepare(self.config(), stage.path, device)
            return prepared, digest_tree(stage.path)

    def load(self, url: str, device: str):
        """The model prepared at ``url``, configured as this resource says."""
        return self.model_class().load(self.config(), localize(url), device)


class DiffusionResource(RegisteredModelResource):
    """The diffusion backend: a pipeline family ``kind`` ("digits", "diffusers") and its
    settings (fields of that family's config dataclass)."""

    kind: str = "digits"

    def model_class(self) -> type[DiffusionBackend]:
        return backend_class(self.kind)

    def load(self, url: str, device: str) -> DiffusionBackend:
        return super().load(url, device)


class RewardResource(RegisteredModelResource):
    """A reward model: ``kind`` ("digit_classifier", "hpsv2") and its settings. The graph has
    two: ``filter_reward`` keeps re-denoise samples, ``judge_reward`` scores the evaluation."""

    kind: str = "digit_classifier"

    def model_class(self) -> type[RewardModel]:
        return reward_class(self.kind)

    def load(self, url: str, device: str) -> RewardModel:
        return super().load(url, device)
