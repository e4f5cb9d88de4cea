"""The model resources: the diffusion backend, the filter and judge rewards, and the device.

``diffusion``, ``filter_reward`` and ``judge_reward`` each name a registered class by ``kind``
(``gn_models.backends.registry``, ``gn_models.rewards.registry``) and hold its settings, which
build the class's config dataclass by keyword. A profile (``gn_dagster.profiles``) is a choice
of the three. ``compute`` holds the torch device, set per run
(``resources.compute.config.device``) to place each run on its own GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

from gn_dagster.config import dataclass_from_dict
from gn_models.backends.base import DiffusionBackend
from gn_models.backends.registry import backend_class
from gn_models.rewards.base import RewardModel
from gn_models.rewards.registry import reward_class
from gn_models.types import PreparedModel
from gn_models.utils.device import resolve_device
from gn_models.utils.digest import digest_tree
from gn_models.utils.fsio import localize, staged_write


class ComputeResource(ConfigurableResource):
    """``device``: "auto" (CUDA when available), "cpu" or "cuda:N"."""

    device: str = "auto"

    def torch_device(self) -> str:
        return resolve_device(self.device)


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
        with staged_write(url) as tmp:
            Path(tmp).mkdir(parents=True)
            prepared = self.model_class().prepare(self.config(), Path(tmp), device)
            return prepared, digest_tree(tmp)

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
