"""Profiles: a choice of diffusion backend, filter reward and judge reward.

- ``digits`` (default): the small digits UNet this graph trains; the filter is a linear digit
  classifier (``GN_FILTER_REWARD=digit_mlp``: a calibrated MLP that more ink cannot fool, but
  that also rejects the bolder strokes the judge prefers; docs/method-and-results.md), the
  judge a digit CNN trained on other digits (CPU, minutes).
- ``sdxl``: a pretrained diffusers pipeline (SDXL and its family, SD 1.5/2.1), HPSv2 as the
  filter and PickScore as the judge, from local files or the Hugging Face cache;
  ``GN_FILTER_REWARD`` and ``GN_JUDGE_REWARD`` pick any of hpsv2, pickscore, image_reward,
  aesthetic, clip_score.

A profile is only resources: every asset is the same on every profile. Adding a profile is one
function here plus one entry in ``PROFILES``.
"""

from __future__ import annotations

from collections.abc import Callable

from dagster import ConfigurableResource

from gn_dagster.resources.models import (
    DiffusionResource,
    RegisteredModelResource,
    RewardResource,
)
from gn_dagster.settings import PROFILE_VARIABLES, Settings
from gn_models.utils.validation import ConfigValueError

DIGITS_FILTERS = ("digit_classifier", "digit_mlp")  # GN_FILTER_REWARD; the first is the default
# The pretrained rewards (the paper's five metrics); GN_FILTER_REWARD and GN_JUDGE_REWARD pick
# one each, the first of each tuple by default. Weights of those without variables below come
# from their defaults (the Hugging Face cache) or resources.<name>.config.settings.
SDXL_BACKENDS = ("diffusers", "dit")  # GN_SDXL_BACKEND: SD/SDXL, or Hunyuan-DiT / PixArt-Sigma
SDXL_FILTERS = ("hpsv2", "pickscore", "image_reward", "aesthetic", "clip_score")
SDXL_JUDGES = ("pickscore", "hpsv2", "image_reward", "aesthetic", "clip_score")
# the sdxl profile's settings: field of the model's config -> option (PROFILE_VARIABLES)
SDXL_DIFFUSION = {"model": "sdxl_model", "variant": "sdxl_variant", "sampler": "sdxl_sampler"}
HPSV2 = {"version": "hpsv2_version", "checkpoint": "hpsv2_checkpoint"}
JUDGE_HPSV2 = {"version": "judge_hpsv2_version", "checkpoint": "judge_hpsv2_checkpoint"}
PICKSCORE = {"model": "pickscore_model", "processor": "pickscore_processor"}
FILTER_SOURCES = {"hpsv2": [HPSV2], "pickscore": [PICKSCORE]}
JUDGE_SOURCES = {"hpsv2": [HPSV2, JUDGE_HPSV2], "pickscore": [PICKSCORE]}


def digits_profile(settings: Settings) -> dict[str, ConfigurableResource]:
    """The digits UNet, the filter named by GN_FILTER_REWARD and the digit-CNN judge.

    Raises:
        ValueError: GN_FILTER_REWARD is not one of ``DIGITS_FILTERS``.
    """
    options = settings.profile_options
    return {
        "diffusion": DiffusionResource(kind="digits"),
        "filter_reward": RewardResource(
            kind=_choose(options, "filter_reward", DIGITS_FILTERS, "digits")
        ),
        "judge_reward": RewardResource(kind="digit_cnn"),
    }


def sdxl_profile(settings: Settings) -> dict[str, ConfigurableResource]:
    """A diffusers pipeline (GN_SDXL_*; GN_SDXL_BACKEND=dit: Hunyuan-DiT or PixArt-Sigma),
    the filter named by GN_FILTER_REWARD (HPSv2 by
    default, GN_HPSV2_*) and the judge named by GN_JUDGE_REWARD: PickScore by default, a
    preference model other than the filter; an HPSv2 judge takes the filter's settings unless
    GN_JUDGE_HPSV2_* are set. Any of the five pretrained rewards can be either.

    Raises:
        ValueError: an unknown GN_FILTER_REWARD or GN_JUDGE_REWARD, or a setting the model's
            config refuses (an unknown GN_SDXL_SAMPLER or GN_HPSV2_VERSION); the message
            names the variable.
    """
    options = settings.profile_options
    backend = _choose(options, "sdxl_backend", SDXL_BACKENDS, "sdxl")
    filt = _choose(options, "filter_reward", SDXL_FILTERS, "sdxl")
    judge = _choose(options, "judge_reward", SDXL_JUDGES, "sdxl")
    return {
        "diffusion": _resource(DiffusionResource, backend, options, SDXL_DIFFUSION),
        "filter_reward": _resource(RewardResource, filt, options, *FILTER_SOURCES.get(filt, [])),
        "judge_reward": _resource(RewardResource, judge, options, *JUDGE_SOURCES.get(judge, [])),
    }


PROFILES: dict[str, Callable[[Settings], dict[str, ConfigurableResource]]] = {
    "digits": digits_profile,
    "sdxl": sdxl_profile,
}


def profile_resources(settings: Settings) -> dict[str, ConfigurableResource]:
    """The model resources of ``settings.profile``.

    Raises:
        ValueError: an unknown profile (the message lists them), or a bad profile setting
            (the message names its variable).
    """
    if settings.profile not in PROFILES:
        raise ValueError(
            f"GN_PROFILE={settings.profile!r} is not a profile; use one of {sorted(PROFILES)}."
        )
    return PROFILES[settings.profile](settings)


def _choose(options: dict[str, str], option: str, choices: tuple[str, ...], profile: str) -> str:
    """The kind that ``option`` names (default: the first of ``choices``).

    Raises:
        ValueError: a kind outside ``choices`` (the message names the variable and them).
    """
    kind = options.get(option, choices[0])
    if kind not in choices:
        what = option.replace("_", " ")
        raise ValueError(
            f"{PROFILE_VARIABLES[option]}={kind!r} is not a {what} of the {profile} profile; "
            f"use one of {list(choices)}."
        )
    return kind


def _resource(
    cls: type[RegisteredModelResource], kind: str, options: dict[str, str], *sources: dict
) -> RegisteredModelResource:
    """``cls(kind=kind)`` with the settings that ``sources`` (config field -> option) name,
    a later source's option winning where set; its config is built now.

    Raises:
        ValueError: a setting the config refuses; the message names the variable behind it.
    """
    chosen = {}  # field -> the option that sets it
    for source in sources:
        chosen |= {field: option for field, option in source.items() if option in options}
    resource = cls(kind=kind, settings={field: options[o] for field, o in chosen.items()})
    try:
        resource.config()
    except ConfigValueError as error:
        if error.field not in chosen:
            raise
        raise ValueError(
            f"{PROFILE_VARIABLES[chosen[error.field]]}={error.value!r} is invalid (the "
            f"{error.field} of the {kind} model): {error.fix}."
        ) from None
    return resource
