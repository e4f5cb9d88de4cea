"""A newcomer's extensions, each one class plus one registration, run in the real graph: a toy
reward, a toy golden-noise model and a toy pipeline family (docs/contributing.md)."""

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from dagster import AssetCheckKey, AssetKey, DagsterInstance

from gn_dagster.definitions import build_definitions
from gn_dagster.demo import materialize_all
from gn_dagster.resources.models import DiffusionResource, RewardResource
from gn_models.backends.base import DiffusionBackend
from gn_models.backends.digits_training import SCHEDULER_CONFIG
from gn_models.backends.registry import BACKEND_CLASSES, register_backend
from gn_models.data.noise_sequence_store import open_shard
from gn_models.golden_noise.base import GoldenNoiseModel
from gn_models.golden_noise.registry import MODEL_CLASSES, load_golden_model, register_model
from gn_models.rewards.base import RewardModel
from gn_models.rewards.registry import REWARD_CLASSES, register_reward
from gn_models.sampling.ddim import ddim_sample
from gn_models.types import PreparedModel, PromptEmbeds
from gn_models.utils.versions import localize
from helpers.graph import TINY, tiny_settings


# -- a reward: brightness close to a target -------------------------------------------------
@dataclass
class ToyBrightnessConfig:
    target: float = 0.8


class ToyBrightness(RewardModel):
    kind = "toy_brightness"
    config_class = ToyBrightnessConfig
    name, version, score_range = "toy-brightness", "v1", (0.0, 1.0)

    def __init__(self, target: float):
        self.target = target

    def score(self, images, prompts, labels):
        return 1.0 - (images.float().mean(dim=(1, 2, 3)) - self.target).abs().cpu()

    @classmethod
    def prepare(cls, config, directory: Path, device="auto"):
        (directory / "toy.json").write_text(json.dumps({"target": config.target}))
        return PreparedModel({"target": config.target})

    @classmethod
    def load(cls, config, directory: Path, device="auto"):
        return cls(json.loads((directory / "toy.json").read_text())["target"])


# -- a golden-noise model: a learned per-channel scale and a prompt-dependent shift -----------
@dataclass
class ToyScaleConfig:
    channels: int = 1  # set from data
    embed_dim: int = 2  # set from data
    init_scale: float = 1.0


class ToyScale(GoldenNoiseModel):
    """ToyScale: x'_T = s * x_T + W c, with a learned scale s per channel."""

    kind = "toy_scale"
    config_class = ToyScaleConfig
    data_fields = ("channels", "embed_dim")
    training_defaults = {"learning_rate": 1e-2}

    def __init__(self, config: ToyScaleConfig):
        super().__init__()
        self.config = config
        self.scale = torch.nn.Parameter(torch.full((config.channels,), config.init_scale))
        self.shift = torch.nn.Linear(config.embed_dim, config.channels)

    @classmethod
    def from_data(cls, config, latent_shape, embeds, num_redenoise):
        return cls(replace(config, channels=latent_shape[0], embed_dim=embeds.pooled.shape[1]))

    def forward(self, x_T, cond):
        return x_T * self.scale[:, None, None] + self.shift(cond.pooled)[:, :, None, None]


# -- a pipeline family: an analytic 1 x 4 x 4 "diffusion model" ------------------------------
@dataclass
class ToyAnalyticConfig:
    size: int = 4


class ToyAnalyticBackend(DiffusionBackend):
    """eps(x, t, c) = 0.02 tanh(len(prompt) / 10): small and prompt-dependent."""

    kind = "toy_analytic"
    config_class = ToyAnalyticConfig

    def __init__(self, size: int):
        self.device, self.size = torch.device("cpu"), size

    @property
    def latent_shape(self):
        return (1, self.size, self.size)

    @property
    def scheduler_config(self):
        return dict(SCHEDULER_CONFIG)

    def encode_prompts(self, prompts):
        pooled = torch.tensor([[len(p) / 10.0, 1.0] for p in prompts]).reshape(-1, 2)
        mask = torch.ones(len(prompts), 3, dtype=torch.long)
        return PromptEmbeds(pooled[:, None, :].repeat(1, 3, 1), mask, pooled)

    def denoiser(self, x, t, cond):
        return (0.02 * torch.tanh(cond.pooled[:, :1]))[:, :, None, None].expand_as(x).clone()

    def decode(self, latents):
        return (latents.clamp(-1, 1) + 1) / 2

    def generate(self, x_T, cond, cfg_scale, num_steps):
        return self.decode(ddim_sample(self, x_T, cond, cfg_scale, num_steps))

    @classmethod
    def prepare(cls, config, directory: Path, device="auto"):
        (directory / "toy.json").write_text(json.dumps({"size": config.size}))
        return PreparedModel({"size": config.size})

    @classmethod
    def load(cls, config, directory: Path, device="auto"):
        return cls(json.loads((directory / "toy.json").read_text())["size"])


@pytest.fixture
def registered():
    """The three toys registered, as their one line each in the registries would do."""
    register_reward(ToyBrightness)
    register_model(ToyScale)
    register_backend(ToyAnalyticBackend)
    yield
    REWARD_CLASSES.unregister(ToyBrightness.kind)
    MODEL_CLASSES.unregister(ToyScale.kind)
    BACKEND_CLASSES.unregister(ToyAnalyticBackend.kind)


def test_a_registered_reward_model_and_family_run_through_the_whole_graph(registered, tmp_path):
    prompts = pd.DataFrame(
        {"prompt": [f"toy prompt number {i}{'!' * i}" for i in range(8)], "label": ""}
    )
    prompts.to_csv(tmp_path / "train.csv", index=False)
    prompts.head(3).to_csv(tmp_path / "eval.csv", index=False)
    defs = build_definitions(
        tiny_settings(tmp_path),
        diffusion=DiffusionResource(kind="toy_analytic"),
        # re-denoise darkens this family's images; a filter that likes dark keeps samples
        filter_reward=RewardResource(kind="toy_brightness", settings={"target": 0.1}),
        judge_reward=RewardResource(kind="toy_brightness"),
    )
    # the model's asset, in the training job, with no change to gn_dagster
    job = defs.resolve_job_def("train_and_evaluate")
    assert AssetKey("toy_scale") in job.asset_layer.selected_asset_keys
    home = tmp_path / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        materialize_all(defs, instance, TINY, log=lambda _: None)
        storage = defs.resources["storage"]
        shard = open_shard(storage.noise_sequence_store, "shard-00")
        assert shard.attrs["reward"] == "toy-brightness v1"  # the filter labelled the data
        model = load_golden_model(localize(storage.checkpoint_dir("toy_scale")))
        assert isinstance(model, ToyScale) and model.scale.shape == (1,)
        assert not torch.allclose(model.scale, torch.ones(1))  # it trained
        scores = pd.read_parquet(storage.scores_path)
        assert set(scores["judge"]) == {"toy-brightness v1"}  # the judge scored
        comparison = pd.read_parquet(storage.comparison_path)
        assert "toy_scale" in set(comparison["method"])
        check = AssetCheckKey(AssetKey("toy_scale"), "checkpoint_reloads_with_finite_output")
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])
        assert record[check].evaluation.passed  # the model's blocking check ran, and passed
