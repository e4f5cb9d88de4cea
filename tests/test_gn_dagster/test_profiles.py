"""Profiles from the environment (a choice of diffusion backend and rewards) and the device
chosen per run."""

import pytest
from dagster import RunConfig, asset, materialize

from gn_dagster.definitions import build_definitions
from gn_dagster.profiles import profile_resources
from gn_dagster.resources.models import ComputeResource, DiffusionResource, RewardResource
from gn_dagster.settings import Settings


def test_device_is_chosen_per_run_from_run_config():
    seen = []

    @asset
    def uses_device(compute: ComputeResource):
        seen.append(compute.torch_device())

    for device in ("cuda:1", "cpu"):
        materialize(
            [uses_device],
            resources={"compute": ComputeResource(device="auto")},
            run_config=RunConfig(resources={"compute": {"config": {"device": device}}}),
        )
    assert seen == ["cuda:1", "cpu"]


def test_profiles_from_the_environment(monkeypatch):
    monkeypatch.setenv("GN_PROFILE", "sdxl")
    monkeypatch.setenv("GN_SDXL_MODEL", "/models/dreamshaper-xl")
    monkeypatch.setenv("GN_HPSV2_VERSION", "v2.0")
    monkeypatch.setenv("GN_JUDGE_HPSV2_VERSION", "v2.1")
    monkeypatch.setenv("GN_PICKSCORE_MODEL", "/models/pickscore")
    monkeypatch.setenv("GN_DEVICE", "cuda:0")
    resources = build_definitions().resources
    assert resources["compute"].device == "cuda:0"
    assert resources["diffusion"].kind == "diffusers"
    assert resources["diffusion"].config().model == "/models/dreamshaper-xl"
    assert resources["filter_reward"].kind == "hpsv2"
    assert resources["filter_reward"].config().version == "v2.0"
    judge = resources["judge_reward"]  # by default another preference model than the filter
    assert judge.kind == "pickscore" and judge.config().model == "/models/pickscore"
    assert judge.config().processor == "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
    monkeypatch.setenv("GN_JUDGE_REWARD", "hpsv2")
    judge = profile_resources(Settings.from_env())["judge_reward"]
    assert judge.kind == "hpsv2" and judge.config().version == "v2.1"  # set apart from the filter
    for kind in ("image_reward", "aesthetic", "clip_score"):  # the paper's other metrics
        monkeypatch.setenv("GN_JUDGE_REWARD", kind)
        monkeypatch.setenv("GN_FILTER_REWARD", "pickscore" if kind == "clip_score" else kind)
        chosen = profile_resources(Settings.from_env())
        assert chosen["judge_reward"].kind == kind
        assert type(chosen["judge_reward"].config()).__name__.endswith("Config")
    assert chosen["filter_reward"].config().model == "/models/pickscore"
    monkeypatch.delenv("GN_FILTER_REWARD")
    monkeypatch.setenv("GN_SDXL_BACKEND", "dit")  # Hunyuan-DiT / PixArt-Sigma
    monkeypatch.setenv("GN_SDXL_MODEL", "/models/hunyuan-dit")
    diffusion = profile_resources(Settings.from_env())["diffusion"]
    assert diffusion.kind == "dit" and diffusion.config().model == "/models/hunyuan-dit"
    assert type(diffusion.config()).__name__ == "DiTBackendConfig"
    monkeypatch.delenv("GN_SDXL_BACKEND")
    monkeypatch.setenv("GN_PROFILE", "digits")
    digits = profile_resources(Settings.from_env())
    assert [digits[k].kind for k in ("diffusion", "filter_reward", "judge_reward")] == [
        "digits", "digit_classifier", "digit_cnn",
    ]  # fmt: skip
    monkeypatch.setenv("GN_FILTER_REWARD", "digit_mlp")  # the harder filter
    assert profile_resources(Settings.from_env())["filter_reward"].kind == "digit_mlp"
    assert build_definitions().resources["filter_reward"].kind == "digit_mlp"


def test_bad_settings_name_the_variable(monkeypatch):
    monkeypatch.setenv("GN_PROFILE", "sd3")
    with pytest.raises(ValueError, match=r"GN_PROFILE='sd3'.*digits"):
        build_definitions()
    monkeypatch.setenv("GN_PROFILE", "sdxl")
    monkeypatch.setenv("GN_JUDGE_REWARD", "clipscore")
    with pytest.raises(ValueError, match=r"GN_JUDGE_REWARD='clipscore'.*'hpsv2'.*'clip_score'"):
        build_definitions()
    monkeypatch.setenv("GN_PROFILE", "digits")
    monkeypatch.setenv("GN_FILTER_REWARD", "hpsv2")
    with pytest.raises(
        ValueError, match=r"GN_FILTER_REWARD='hpsv2'.*digits.*'digit_classifier', 'digit_mlp'"
    ):
        build_definitions()
    monkeypatch.delenv("GN_FILTER_REWARD")
    monkeypatch.setenv("GN_NUM_SHARDS", "120")
    with pytest.raises(ValueError, match="GN_NUM_SHARDS=120"):
        build_definitions()
    monkeypatch.setenv("GN_NUM_SHARDS", "eight")
    with pytest.raises(ValueError, match="GN_NUM_SHARDS='eight' is not an integer"):
        Settings.from_env()


def test_unknown_kinds_and_settings_of_a_model_fail_when_the_definitions_load():
    bad = DiffusionResource(kind="digits", settings={"stepz": 10})
    with pytest.raises(ValueError, match=r"`diffusion`: .*unknown settings \['stepz'\].*steps"):
        build_definitions(Settings(), diffusion=bad)
    with pytest.raises(ValueError, match=r"`judge_reward`: Unknown reward kind 'imagereward'"):
        build_definitions(Settings(), judge_reward=RewardResource(kind="imagereward"))
