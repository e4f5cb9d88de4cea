"""Bad config fails early with a message naming the setting, its value and the fix: environment
settings when the definitions load, run config at the start of the step (before any data is
read), config dataclasses when they are built, and a storage root that cannot be written when
a run first uses it."""

import math
import os

import pytest
from dagster import AssetKey, DagsterInstance, materialize

from gn_dagster.definitions import build_definitions
from gn_dagster.partitions import prompt_shards
from gn_dagster.settings import Settings
from gn_models.backends.diffusers_backend import DiffusersBackendConfig
from gn_models.backends.digits_training import DigitsBackendConfig
from gn_models.data.collect import CollectionConfig
from gn_models.data.training_data import OneStepTargets
from gn_models.evaluation.sample_images import EvaluationConfig
from gn_models.golden_noise.film_noise_net import FiLMNoiseNetConfig
from gn_models.golden_noise.noise_gru import NoiseGRUConfig
from gn_models.golden_noise.noise_transformer import NoiseTransformerConfig
from gn_models.golden_noise.npnet import NPNetConfig
from gn_models.golden_noise.rollout import RolloutSelection
from gn_models.golden_noise.training import TrainingConfig
from gn_models.rewards.digit_cnn import DigitCNNRewardConfig
from gn_models.rewards.hpsv2 import HPSv2RewardConfig
from gn_models.rewards.pickscore import PickScoreRewardConfig
from gn_models.utils.validation import ConfigValueError

NAN, INF = math.nan, math.inf
SDXL = {"GN_PROFILE": "sdxl"}

ENVIRONMENTS = {  # id -> (environment, what the message must hold)
    "zero_shards": ({"GN_NUM_SHARDS": "0"}, "GN_NUM_SHARDS=0: 0 shards: use 1..99"),
    "negative_shards": ({"GN_NUM_SHARDS": "-3"}, "GN_NUM_SHARDS=-3"),
    "zero_interval": ({"GN_SENSOR_INTERVAL": "0"}, "GN_SENSOR_INTERVAL=0 is invalid: set"),
    "threads": ({"GN_THREADS": "-1"}, "GN_THREADS=-1 is invalid: set 0 (this machine's cores)"),
    "threads_word": ({"GN_THREADS": "two"}, "GN_THREADS='two' is not an integer"),
    "device": ({"GN_DEVICE": "gpu"}, "GN_DEVICE='gpu' is invalid: set auto, cpu, cuda"),
    "timezone": ({"GN_CRON_TIMEZONE": "Mars/Base"}, "GN_CRON_TIMEZONE='Mars/Base'"),
    "cron": ({"GN_TRAIN_CRON": "at three"}, "GN_TRAIN_CRON='at three' is invalid: set a cron"),
    "profile": ({"GN_PROFILE": "sd3"}, "GN_PROFILE='sd3' is not a profile; use one of"),
    "executor": ({"GN_EXECUTOR": "threads"}, "GN_EXECUTOR='threads': choose one of"),
    "digits_filter": ({"GN_FILTER_REWARD": "clip"}, "GN_FILTER_REWARD='clip' is not a filter"),
    "sdxl_filter": (SDXL | {"GN_FILTER_REWARD": "digit_mlp"}, "use one of ['hpsv2', 'pickscore'"),
    "sdxl_judge": (SDXL | {"GN_JUDGE_REWARD": "clip"}, "GN_JUDGE_REWARD='clip' is not a judge"),
    "sampler": (SDXL | {"GN_SDXL_SAMPLER": "Euler"}, "GN_SDXL_SAMPLER='Euler' is invalid"),
    "hpsv2": (SDXL | {"GN_HPSV2_VERSION": "v3"}, "GN_HPSV2_VERSION='v3' is invalid"),
    "judge_hpsv2": (
        SDXL | {"GN_JUDGE_REWARD": "hpsv2", "GN_JUDGE_HPSV2_VERSION": "v2.2"},
        "GN_JUDGE_HPSV2_VERSION='v2.2' is invalid (the version of the hpsv2 model): set it "
        "to one of ['v2.0', 'v2.1']",
    ),
}


@pytest.mark.parametrize(("environ", "message"), ENVIRONMENTS.values(), ids=ENVIRONMENTS)
def test_bad_environment_fails_when_the_definitions_load(environ, message):
    with pytest.raises(ValueError) as error:
        build_definitions(Settings.from_env(environ))
    assert message in str(error.value)


GUIDANCE = "a finite guidance (CFG) scale >= 0"
DATACLASSES = [  # (config class, field, bad value, what the message says to set)
    (CollectionConfig, "num_steps", 0, "an integer >= 1"),
    (CollectionConfig, "seeds_per_prompt", -1, "an integer >= 1"),
    (CollectionConfig, "num_redenoise", 0, "an integer >= 1"),
    (CollectionConfig, "batch_size", 0, "an integer >= 1"),
    (CollectionConfig, "cfg_sample", NAN, GUIDANCE),
    (CollectionConfig, "cfg_denoise", INF, GUIDANCE),
    (CollectionConfig, "cfg_inversion", -1.0, GUIDANCE),
    (CollectionConfig, "margin", NAN, "a finite number"),
    (TrainingConfig, "steps", 0, "an integer >= 1"),
    (TrainingConfig, "batch_size", -8, "an integer >= 1"),
    (TrainingConfig, "patience", 0, "an integer >= 1"),
    (TrainingConfig, "learning_rate", NAN, "a finite number >= 0"),
    (TrainingConfig, "val_fraction", 1.0, "a fraction in [0, 1)"),
    (RolloutSelection, "sampling_steps", 0, "an integer >= 1"),
    (RolloutSelection, "cfg_scales", [5.5, NAN], f"a non-empty list whose items are each "
     f"{GUIDANCE} (nan is not)"),
    (RolloutSelection, "rollout_lengths", [], "a non-empty list"),
    (RolloutSelection, "reward_every", -1, "an integer >= 0"),
    (EvaluationConfig, "step_counts", [10, 0], "a non-empty list"),
    (EvaluationConfig, "cfg_scales", [INF], "a non-empty list"),
    (EvaluationConfig, "seeds_per_prompt", 0, "an integer >= 1"),
    (EvaluationConfig, "chain_lengths", [0], "a list whose items are each an integer >= 1"),
    (OneStepTargets, "target_state", 0, "an integer >= 1"),
    (NPNetConfig, "residual", "auto", "one of ('conv', 'swin_t') ('auto' was removed"),
    (FiLMNoiseNetConfig, "hidden", 0, "a multiple of 8 (the GroupNorm groups)"),
    (FiLMNoiseNetConfig, "hidden", 12, "a multiple of 8 (the GroupNorm groups)"),
    (NoiseGRUConfig, "hidden", 4, "a multiple of 8 (the GroupNorm groups)"),
    (NoiseGRUConfig, "kl_weight", NAN, "a finite number >= 0"),
    (NoiseTransformerConfig, "heads", 3, "a divisor of dim=64"),
    (DigitsBackendConfig, "steps", 0, "an integer >= 1"),
    (DiffusersBackendConfig, "dtype", "float8", "one of ['auto', 'bf16'"),
    (DiffusersBackendConfig, "sampler", "Euler", "'ddim' or a diffusers scheduler class name"),
    (HPSv2RewardConfig, "version", "v3", "one of ['v2.0', 'v2.1']"),
    (HPSv2RewardConfig, "batch_size", 0, "an integer >= 1"),
    (PickScoreRewardConfig, "batch_size", 0, "an integer >= 1"),
    (DigitCNNRewardConfig, "epochs", 0, "an integer >= 1"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("cls", "field", "value", "wants"),
    DATACLASSES,
    ids=[f"{cls.__name__}.{field}={value!r}" for cls, field, value, _ in DATACLASSES],
)
def test_bad_config_values_fail_when_the_dataclass_is_built(cls, field, value, wants):
    with pytest.raises(ConfigValueError) as error:
        cls(**{field: value})
    assert str(error.value).startswith(f"{cls.__name__}.{field}={value!r} is invalid: set it to ")
    assert wants in str(error.value)
    assert (error.value.field, error.value.fix) == (field, str(error.value).split(": ", 1)[1][:-1])


@pytest.mark.parametrize("cls", sorted({c for c, *_ in DATACLASSES}, key=lambda c: c.__name__))
def test_the_defaults_pass(cls):
    cls()
    NPNetConfig.published()


RUN_CONFIGS = [  # (asset, its bad run config, the message)
    ("noise_sequences", {"num_steps": 0}, "CollectionConfig.num_steps=0 is invalid"),
    ("noise_sequences", {"cfg_sample": NAN}, "CollectionConfig.cfg_sample=nan is invalid"),
    ("noise_sequences", {"seeds_per_prompt": -2}, "CollectionConfig.seeds_per_prompt=-2"),
    ("npnet", {"steps": 0}, "TrainingConfig.steps=0 is invalid"),
    ("noise_gru", {"cfg_scales": [5.5, INF]}, "RolloutSelection.cfg_scales=[5.5, inf]"),
    ("noise_transformer", {"heads": 3}, "NoiseTransformerConfig.heads=3 is invalid"),
    ("eval_images", {"step_counts": [0]}, "EvaluationConfig.step_counts=[0] is invalid"),
    ("eval_images", {"cfg_scales": [-1.0]}, "EvaluationConfig.cfg_scales=[-1.0] is invalid"),
    ("noise_sequences", {"chunk_size": 0}, "chunk_size\n  Input should be greater than 0"),
]


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_config")
    return build_definitions(Settings(storage_root=str(root / "artifacts"), device="cpu"))


def failure(result) -> str:
    """The error texts (with their causes) of the failed run ``result``: a failed step, or
    a resource that failed to initialize."""
    assert not result.success
    data = [event.event_specific_data for event in result.all_events]
    return "\n".join(d.error.to_string() for d in data if getattr(d, "error", None))


@pytest.mark.parametrize(
    ("name", "config", "message"),
    RUN_CONFIGS,
    ids=[f"{name}.{field}" for name, config, _ in RUN_CONFIGS for field in config],
)
def test_bad_run_config_fails_the_step_before_it_reads_anything(graph, name, config, message):
    asset = graph.resolve_assets_def(AssetKey(name))  # with the graph's resources
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(prompt_shards.name, ["shard-00"])
        result = materialize(
            [asset],
            instance=instance,
            partition_key="shard-00" if asset.partitions_def else None,
            run_config={"ops": {name: {"config": config}}},
            raise_on_error=False,
        )
    text = failure(result)
    assert message in text
    assert "ValidationError" in text and "FileNotFoundError" not in text  # no input was read


def unwritable_root(tmp_path, case: str) -> str:
    """A storage root that cannot be written: a file, a path under a file, a read-only
    folder (skipped as root, whom permissions do not stop)."""
    file = tmp_path / "a_file"
    file.write_text("not a folder")
    if case == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders; the file cases test the check")
        (tmp_path / "read_only").mkdir(mode=0o555)
    return str(
        {"a file": file, "under a file": file / "gn", "read-only": tmp_path / "read_only"}[case]
    )


@pytest.mark.parametrize("case", ["a file", "under a file", "read-only"])
def test_a_storage_root_that_cannot_be_written_fails_before_any_compute(tmp_path, case):
    root = unwritable_root(tmp_path, case)
    defs = build_definitions(Settings(storage_root=root))  # GN_STORAGE_ROOT=root
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [defs.resolve_assets_def(AssetKey("eval_prompts"))],
            instance=instance,
            raise_on_error=False,
        )
    text = failure(result)
    assert f"The storage root {root} (GN_STORAGE_ROOT" in text
    assert "is not writable" in text and "Set GN_STORAGE_ROOT to a folder" in text
    assert not list(tmp_path.rglob("*.parquet"))  # the asset never ran
