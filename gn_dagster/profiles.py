"""Model profiles: which diffusion model and which reward the graph runs on.

Every asset downstream of ``base_model`` and ``reward_model`` takes a ``ProfileResource`` and
calls ``load_backend`` / ``load_reward``; it never branches on the profile. ``digits`` trains
its own small models (CPU, minutes); ``sdxl`` loads a pretrained diffusers pipeline (SDXL
and its family, or SD 1.5/2.1) and HPSv2 from local files or the Hugging Face cache.
"""

import functools
import json
from typing import Any

import torch
from dagster import ConfigurableResource

from gn_models.backends.base import DiffusionBackend
from gn_models.backends.diffusers_backend import DiffusersBackend, load_pipeline
from gn_models.backends.digits_backend import DigitsBackend
from gn_models.rewards.digit_classifier import DigitClassifierReward
from gn_models.utils.fsio import join, localize
from gn_models.rewards.hpsv2 import HPSv2Reward, find_hpsv2_checkpoint
from gn_models.rewards.base import RewardModel

BASE_MODEL_FILE = "model.json"  # what the sdxl profile's base_model asset writes
REWARD_FILE = "reward.json"


class ProfileResource(ConfigurableResource):
    """Base of the profiles. ``device``: "auto" (CUDA when available), "cpu" or "cuda:N";
    set it per run (resources.profile.config.device) to place each run on its own GPU."""

    device: str = "auto"

    def torch_device(self) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def load_backend(self, base_model_dir: str) -> DiffusionBackend:
        """The diffusion backend that the ``base_model`` asset recorded at ``base_model_dir``."""
        raise NotImplementedError

    def load_reward(self, reward_model_dir: str) -> RewardModel:
        """The reward model that the ``reward_model`` asset materialized at ``reward_model_dir``."""
        raise NotImplementedError


class DigitsProfileResource(ProfileResource):
    """The `digits` profile: the base model and digit classifier trained by this graph."""

    def load_backend(self, base_model_dir: str) -> DiffusionBackend:
        return DigitsBackend.load(localize(base_model_dir), self.torch_device())

    def load_reward(self, reward_model_dir: str) -> RewardModel:
        return DigitClassifierReward.load(localize(reward_model_dir))


class SDXLProfileResource(ProfileResource):
    """The `sdxl` profile: a pretrained diffusers pipeline and HPSv2, loaded once per process
    (so once per run with the in-process executor, not once per step).

    Attributes:
        model: Hugging Face model id (read from the local HF cache, never downloaded) or a
            local directory with model_index.json. SDXL, DreamShaper-XL, SDXL-Lightning, LCM
            and PCM SDXL checkpoints, SD 1.5 and SD 2.1 all work.
        variant: weights variant to load ("fp16" for the fp16 files), "" for the default.
        dtype: "auto" (float16 on CUDA, float32 on CPU), "float16", "bfloat16", "float32".
        height, width: image size in pixels; 0 = the model's default (1024 for SDXL).
        sampler: "ddim" or a diffusers scheduler class name used to sample images from (golden)
            noise, e.g. "EulerDiscreteScheduler" for SDXL-Lightning, "LCMScheduler" for LCM.
        sampler_config: overrides for that scheduler's config, e.g. {"timestep_spacing":
            "trailing"}.
        hpsv2_version: "v2.1" (the paper's reward) or "v2.0"; never mixed in one table.
        hpsv2_checkpoint: local path of the HPSv2 checkpoint; "" = the HF cache (xswu/HPSv2).
        hpsv2_arch: open_clip architecture of the checkpoint (ViT-H-14 for HPSv2).
        reward_batch_size: images per HPSv2 forward pass.
    """

    model: str = "stabilityai/stable-diffusion-xl-base-1.0"
    variant: str = ""
    dtype: str = "auto"
    height: int = 0
    width: int = 0
    sampler: str = "ddim"
    sampler_config: dict[str, Any] = {}
    hpsv2_version: str = "v2.1"
    hpsv2_checkpoint: str = ""
    hpsv2_arch: str = "ViT-H-14"
    reward_batch_size: int = 16

    def backend(self) -> DiffusersBackend:
        """The pipeline as a backend (pipeline weights cached per process)."""
        pipe = _pipeline(self.model, self.torch_device(), self.dtype, self.variant or None)
        return DiffusersBackend(
            pipe, self.height or None, self.width or None, self.sampler, dict(self.sampler_config)
        )

    def reward(self) -> HPSv2Reward:
        """HPSv2 from the configured checkpoint (cached per process)."""
        checkpoint = str(find_hpsv2_checkpoint(self.hpsv2_version, self.hpsv2_checkpoint))
        return _hpsv2(
            checkpoint,
            self.hpsv2_version,
            self.hpsv2_arch,
            self.torch_device(),
            self.reward_batch_size,
        )

    def load_backend(self, base_model_dir: str) -> DiffusionBackend:
        _check_pointer(base_model_dir, BASE_MODEL_FILE, "model", self.model, "base_model")
        return self.backend()

    def load_reward(self, reward_model_dir: str) -> RewardModel:
        _check_pointer(reward_model_dir, REWARD_FILE, "version", self.hpsv2_version, "reward_model")
        return self.reward()


def _check_pointer(directory: str, name: str, key: str, expected: str, asset: str) -> None:
    """Refuse to mix models: the upstream asset must have recorded the configured one."""
    recorded = json.loads(localize(join(directory, name)).read_text())
    if recorded.get(key) != expected:
        raise ValueError(
            f"`{asset}` was materialized with {key}={recorded.get(key)!r}, but the profile "
            f"is configured with {key}={expected!r}. Rematerialize `{asset}` (and what "
            "depends on it) or set the profile back."
        )


@functools.lru_cache(maxsize=1)
def _pipeline(model: str, device: str, dtype: str, variant: str | None):
    return load_pipeline(model, device, dtype, variant)


@functools.lru_cache(maxsize=1)
def _hpsv2(checkpoint: str, version: str, arch: str, device: str, batch_size: int):
    return HPSv2Reward.load(checkpoint, version, arch, device, batch_size)
