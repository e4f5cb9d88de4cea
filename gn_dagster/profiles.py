"""Profiles: a choice of diffusion backend, filter reward and judge reward.

- ``digits`` (default): the small digits UNet this graph trains, and the digit classifier it
  trains, as filter and as judge (CPU, minutes).
- ``sdxl``: a pretrained diffusers pipeline (SDXL and its family, SD 1.5/2.1) and HPSv2, from
  local files or the Hugging Face cache; the judge is HPSv2 too unless configured otherwise.

A profile is only resources: every asset is the same on every profile. Adding a profile is one
function here plus one entry in ``PROFILES``.
"""

from __future__ import annotations

from collections.abc import Callable

from dagster import ConfigurableResource

from gn_dagster.resources.models import DiffusionResource, RewardResource
from gn_dagster.settings import Settings


def digits_profile(settings: Settings) -> dict[str, ConfigurableResource]:
    return {
        "diffusion": DiffusionResource(kind="digits"),
        "filter_reward": RewardResource(kind="digit_classifier"),
        "judge_reward": RewardResource(kind="digit_classifier"),
    }


def sdxl_profile(settings: Settings) -> dict[str, ConfigurableResource]:
    options = settings.profile_options
    diffusion = _pick(options, model="sdxl_model", variant="sdxl_variant", sampler="sdxl_sampler")
    reward = _pick(options, version="hpsv2_version", checkpoint="hpsv2_checkpoint")
    judge = {
        **reward,
        **_pick(options, version="judge_hpsv2_version", checkpoint="judge_hpsv2_checkpoint"),
    }
    return {
        "diffusion": DiffusionResource(kind="diffusers", settings=diffusion),
        "filter_reward": RewardResource(kind="hpsv2", settings=reward),
        "judge_reward": RewardResource(kind="hpsv2", settings=judge),
    }


PROFILES: dict[str, Callable[[Settings], dict[str, ConfigurableResource]]] = {
    "digits": digits_profile,
    "sdxl": sdxl_profile,
}


def profile_resources(settings: Settings) -> dict[str, ConfigurableResource]:
    """The model resources of ``settings.profile``.

    Raises:
        ValueError: an unknown profile (the message lists them).
    """
    if settings.profile not in PROFILES:
        raise ValueError(
            f"GN_PROFILE={settings.profile!r} is not a profile; use one of {sorted(PROFILES)}."
        )
    return PROFILES[settings.profile](settings)


def _pick(options: dict[str, str], **fields: str) -> dict[str, str]:
    """{field: options[option]} for the options that are set."""
    return {field: options[option] for field, option in fields.items() if option in options}
