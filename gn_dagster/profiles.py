"""Profiles: a choice of diffusion backend, filter reward and judge reward.

- ``digits`` (default): the small digits UNet this graph trains; the filter is a linear digit
  classifier (``GN_FILTER_REWARD=digit_mlp``: a calibrated MLP that more ink cannot fool, but
  that also rejects the bolder strokes the judge prefers; docs/method-and-results.md), the
  judge a digit CNN trained on other digits (CPU, minutes).
- ``sdxl``: a pretrained diffusers pipeline (SDXL and its family, SD 1.5/2.1), HPSv2 as the
  filter and PickScore as the judge (``GN_JUDGE_REWARD=hpsv2``: HPSv2), from local files or
  the Hugging Face cache.

A profile is only resources: every asset is the same on every profile. Adding a profile is one
function here plus one entry in ``PROFILES``.
"""

from __future__ import annotations

from collections.abc import Callable

from dagster import ConfigurableResource

from gn_dagster.resources.models import DiffusionResource, RewardResource
from gn_dagster.settings import Settings

DIGITS_FILTERS = ("digit_classifier", "digit_mlp")  # GN_FILTER_REWARD; the first is the default


def digits_profile(settings: Settings) -> dict[str, ConfigurableResource]:
    """The digits UNet, the filter named by GN_FILTER_REWARD and the digit-CNN judge.

    Raises:
        ValueError: GN_FILTER_REWARD is not one of ``DIGITS_FILTERS``.
    """
    kind = settings.profile_options.get("filter_reward", DIGITS_FILTERS[0])
    if kind not in DIGITS_FILTERS:
        raise ValueError(
            f"GN_FILTER_REWARD={kind!r} is not a filter reward of the digits profile; use one "
            f"of {list(DIGITS_FILTERS)}."
        )
    return {
        "diffusion": DiffusionResource(kind="digits"),
        "filter_reward": RewardResource(kind=kind),
        "judge_reward": RewardResource(kind="digit_cnn"),
    }


def sdxl_profile(settings: Settings) -> dict[str, ConfigurableResource]:
    options = settings.profile_options
    diffusion = _pick(options, model="sdxl_model", variant="sdxl_variant", sampler="sdxl_sampler")
    reward = _pick(options, version="hpsv2_version", checkpoint="hpsv2_checkpoint")
    return {
        "diffusion": DiffusionResource(kind="diffusers", settings=diffusion),
        "filter_reward": RewardResource(kind="hpsv2", settings=reward),
        "judge_reward": _sdxl_judge(options, reward),
    }


SDXL_JUDGES = ("pickscore", "hpsv2")  # GN_JUDGE_REWARD; the first is the default


def _sdxl_judge(options: dict[str, str], filter_settings: dict[str, str]) -> RewardResource:
    """The sdxl judge named by GN_JUDGE_REWARD: PickScore by default, a preference model
    other than the filter; HPSv2 takes the filter's settings unless GN_JUDGE_HPSV2_* are set.

    Raises:
        ValueError: GN_JUDGE_REWARD is not one of ``SDXL_JUDGES``.
    """
    kind = options.get("judge_reward", SDXL_JUDGES[0])
    if kind == "pickscore":
        settings = _pick(options, model="pickscore_model", processor="pickscore_processor")
    elif kind == "hpsv2":
        judge = _pick(options, version="judge_hpsv2_version", checkpoint="judge_hpsv2_checkpoint")
        settings = {**filter_settings, **judge}
    else:
        raise ValueError(
            f"GN_JUDGE_REWARD={kind!r} is not a judge reward of the sdxl profile; use one of "
            f"{list(SDXL_JUDGES)}."
        )
    return RewardResource(kind=kind, settings=settings)


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
