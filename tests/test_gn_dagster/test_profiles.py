"""Profile selection from the environment and the device chosen per run."""

import pytest
from dagster import RunConfig, asset, materialize

from gn_dagster.definitions import profile_from_env
from gn_dagster.profiles import DigitsProfileResource, ProfileResource, SDXLProfileResource


def test_device_is_chosen_per_run_from_run_config():
    seen = []

    @asset
    def uses_profile(profile: ProfileResource):
        seen.append(profile.torch_device())

    for device in ("cuda:1", "cpu"):
        materialize(
            [uses_profile],
            resources={"profile": DigitsProfileResource(device="auto")},
            run_config=RunConfig(resources={"profile": {"config": {"device": device}}}),
        )
    assert seen == ["cuda:1", "cpu"]


def test_profile_from_env(monkeypatch):
    monkeypatch.setenv("GN_PROFILE", "sdxl")
    monkeypatch.setenv("GN_SDXL_MODEL", "/models/dreamshaper-xl")
    monkeypatch.setenv("GN_DEVICE", "cuda:0")
    profile = profile_from_env()
    assert isinstance(profile, SDXLProfileResource)
    assert profile.device == "cuda:0"
    monkeypatch.setenv("GN_PROFILE", "digits")
    assert isinstance(profile_from_env(), DigitsProfileResource)
    monkeypatch.setenv("GN_PROFILE", "sd3")
    with pytest.raises(ValueError, match="digits"):
        profile_from_env()
