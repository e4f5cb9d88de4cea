"""Resources: where artifacts live, where prompts come from, and the model profile."""

import os
from importlib import resources as importlib_resources
from pathlib import Path

import torch
from dagster import ConfigurableResource

from gn_models.backend import DiffusionBackend
from gn_models.digits.backend import DigitsBackend
from gn_models.digits.reward import DigitClassifierReward
from gn_models.reward import RewardModel


def packaged_prompt_file(name: str) -> str:
    """Path of a prompt file shipped in gn_dagster/data."""
    return str(importlib_resources.files("gn_dagster") / "data" / name)


class StorageResource(ConfigurableResource):
    """Root folder of every artifact (Zarr store, checkpoints, images, tables)."""

    root: str = "artifacts"

    def path(self, *parts: str) -> Path:
        path = Path(self.root).absolute().joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def base_model_dir(self) -> Path:
        return self.path("base_model")

    @property
    def reward_model_dir(self) -> Path:
        return self.path("reward_model")

    @property
    def prompts_dir(self) -> Path:
        return self.path("prompts")

    @property
    def npd_store(self) -> Path:
        return self.path("noise_pairs.zarr")

    def checkpoint_dir(self, model: str) -> Path:
        return self.path("checkpoints", model)

    @property
    def eval_images_dir(self) -> Path:
        return self.path("eval_images")

    @property
    def scores_path(self) -> Path:
        return self.path("scores", "scores.parquet")

    @property
    def comparison_path(self) -> Path:
        return self.path("scores", "comparison.parquet")


class PromptSourceResource(ConfigurableResource):
    """The training prompt file (sharded) and the evaluation prompt file (CSV or TXT).

    Empty paths select the digits profile's packaged files.
    """

    train_path: str = ""
    eval_path: str = ""

    def train_file(self) -> str:
        return self.train_path or packaged_prompt_file("digits_train_prompts.csv")

    def eval_file(self) -> str:
        return self.eval_path or packaged_prompt_file("digits_eval_prompts.csv")


class DigitsProfileResource(ConfigurableResource):
    """The `digits` profile: loads the base diffusion backend and the reward model that the
    `base_model` and `reward_model` assets trained.

    ``device``: "auto" (CUDA when available), "cpu" or "cuda[:N]".
    """

    device: str = "auto"

    def torch_device(self) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def load_backend(self, base_model_dir: Path) -> DiffusionBackend:
        return DigitsBackend.load(base_model_dir, self.torch_device())

    def load_reward(self, reward_model_dir: Path) -> RewardModel:
        return DigitClassifierReward.load(reward_model_dir)


def default_storage_root() -> str:
    """GN_STORAGE_ROOT, else ./artifacts (relative to the working directory)."""
    return os.environ.get("GN_STORAGE_ROOT", "artifacts")
