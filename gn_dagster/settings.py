"""Every setting the graph reads from the environment, in one place.

``Settings.from_env()`` reads them; nothing else in the project reads ``os.environ``. Tests and
scripts build ``Settings(...)`` directly. Variables (defaults in brackets):

- ``GN_PROFILE`` [digits]: ``digits`` or ``sdxl`` (``gn_dagster.profiles``).
- ``GN_DEVICE`` [auto]: torch device of every model: ``auto`` (CUDA when available), ``cpu``,
  ``cuda:N``.
- ``GN_THREADS`` [0: this machine's cores, at most 8]: torch CPU threads of every step. Set
  it per process when several share the cores (each Celery worker on a CPU machine: cores /
  workers); more threads than cores slow every step down many times.
- ``GN_STORAGE_ROOT`` [artifacts]: where artifacts live: a local folder or an fsspec URL.
- ``GN_TRAIN_PROMPTS`` / ``GN_EVAL_PROMPTS`` [packaged digits prompts]: prompt sources.
- ``GN_NUM_SHARDS`` [8]: hash shards of a training prompt file (1-99).
- ``GN_EXECUTOR`` [in_process]: ``in_process``, ``multiprocess``, ``k8s`` or ``celery``.
- ``GN_EXECUTOR_CONFIG`` [none]: a YAML file whose ``execution: config:`` configures that
  executor for every run, however launched (``deploy/celery/executor.yaml``,
  ``deploy/k8s/executor.yaml``).
- ``GN_TRAIN_CRON`` [0 3 * * *], ``GN_CRON_TIMEZONE`` [UTC]: when retraining may run.
- ``GN_OBSERVE_CRON`` [0 * * * *]: when the prompt sources are re-observed.
- ``GN_SENSOR_INTERVAL`` [30]: seconds between prompt-sensor ticks.
- digits filter reward: ``GN_FILTER_REWARD`` [digit_classifier]: ``digit_classifier`` (the
  linear classifier) or ``digit_mlp`` (a calibrated MLP that has learnt that more ink is no
  better digit).
- sdxl profile: ``GN_SDXL_BACKEND`` [diffusers]: ``diffusers`` (SD 1.5/2.1, SDXL family) or
  ``dit`` (Hunyuan-DiT, PixArt-Sigma); ``GN_SDXL_MODEL``, ``GN_SDXL_VARIANT``,
  ``GN_SDXL_SAMPLER``, ``GN_HPSV2_VERSION``, ``GN_HPSV2_CHECKPOINT`` (filter reward;
  ``GN_FILTER_REWARD`` [hpsv2]: ``hpsv2``, ``pickscore``, ``image_reward``, ``aesthetic`` or
  ``clip_score``).
- sdxl judge reward: ``GN_JUDGE_REWARD`` [pickscore]: any of the five rewards above.
  PickScore: ``GN_PICKSCORE_MODEL`` [yuvalkirstain/PickScore_v1], ``GN_PICKSCORE_PROCESSOR``
  [laion/CLIP-ViT-H-14-laion2B-s32B-b79K] (HF repo ids in the cache, or local folders).
  HPSv2: ``GN_JUDGE_HPSV2_VERSION``, ``GN_JUDGE_HPSV2_CHECKPOINT`` (default: the filter's).

A bad value fails when the definitions load, with a message naming the variable, the value
and what to set instead (``Settings.__post_init__``, ``gn_dagster.profiles``).
"""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from dagster._utils.schedules import is_valid_cron_string

from gn_models.data.shards import hash_shard_keys


@dataclass(frozen=True)
class Settings:
    """The graph's settings (see the module docstring for the variables behind them).

    ``profile_options``: profile-specific values by option name (``sdxl_model``,
    ``hpsv2_version``, ...), only those that are set.
    """

    profile: str = "digits"
    device: str = "auto"
    threads: int = 0
    storage_root: str = "artifacts"
    train_prompts: str = ""
    eval_prompts: str = ""
    num_shards: int = 8
    executor: str = "in_process"
    executor_config: str = ""
    train_cron: str = "0 3 * * *"
    cron_timezone: str = "UTC"
    observe_cron: str = "0 * * * *"
    sensor_interval: int = 30
    profile_options: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        """Check the values, so that a bad one fails when the definitions load, not in a run.

        Raises:
            ValueError: the message names the variable, its value and what to set instead:
                GN_NUM_SHARDS outside 1..99, GN_SENSOR_INTERVAL below 1, GN_THREADS below
                0, a GN_DEVICE torch cannot parse, an unknown GN_CRON_TIMEZONE, or a cron
                string that is not one.
                (GN_PROFILE, GN_EXECUTOR and the reward names are checked where they are
                used: ``gn_dagster.profiles``, ``gn_dagster.executors``.)
        """
        try:
            hash_shard_keys(self.num_shards)
        except ValueError as error:
            raise ValueError(f"GN_NUM_SHARDS={self.num_shards}: {error}") from None
        for name, (test, fix) in _CHECKS.items():
            value = getattr(self, name)
            if not test(value):
                raise ValueError(f"{_VARIABLES[name]}={value!r} is invalid: {fix}.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default ``os.environ``); unset variables keep defaults.

        Raises:
            ValueError: a number that does not parse, or a bad value (see ``__post_init__``).
        """
        env = os.environ if environ is None else environ
        values = {name: env[var] for name, var in _VARIABLES.items() if env.get(var)}
        for name in ("num_shards", "sensor_interval", "threads"):
            if name in values:
                values[name] = _integer(values[name], _VARIABLES[name])
        options = {name: env[var] for name, var in PROFILE_VARIABLES.items() if env.get(var)}
        return cls(**values, profile_options=options)


_VARIABLES = {
    "profile": "GN_PROFILE",
    "device": "GN_DEVICE",
    "threads": "GN_THREADS",
    "storage_root": "GN_STORAGE_ROOT",
    "train_prompts": "GN_TRAIN_PROMPTS",
    "eval_prompts": "GN_EVAL_PROMPTS",
    "num_shards": "GN_NUM_SHARDS",
    "executor": "GN_EXECUTOR",
    "executor_config": "GN_EXECUTOR_CONFIG",
    "train_cron": "GN_TRAIN_CRON",
    "cron_timezone": "GN_CRON_TIMEZONE",
    "observe_cron": "GN_OBSERVE_CRON",
    "sensor_interval": "GN_SENSOR_INTERVAL",
}
PROFILE_VARIABLES = {
    "sdxl_backend": "GN_SDXL_BACKEND",
    "sdxl_model": "GN_SDXL_MODEL",
    "sdxl_variant": "GN_SDXL_VARIANT",
    "sdxl_sampler": "GN_SDXL_SAMPLER",
    "hpsv2_version": "GN_HPSV2_VERSION",
    "hpsv2_checkpoint": "GN_HPSV2_CHECKPOINT",
    "judge_hpsv2_version": "GN_JUDGE_HPSV2_VERSION",
    "judge_hpsv2_checkpoint": "GN_JUDGE_HPSV2_CHECKPOINT",
    "judge_reward": "GN_JUDGE_REWARD",
    "filter_reward": "GN_FILTER_REWARD",
    "pickscore_model": "GN_PICKSCORE_MODEL",
    "pickscore_processor": "GN_PICKSCORE_PROCESSOR",
}


def _is_device(device: str) -> bool:
    import torch  # only here: reading settings does not need torch otherwise

    try:
        torch.device("cpu" if device == "auto" else device)
    except (RuntimeError, ValueError):
        return False
    return True


def _is_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


_CRON_FIX = "set a cron schedule of five fields, such as '0 3 * * *'"
_CHECKS = {  # field -> (test, what to set instead); GN_NUM_SHARDS has its own message
    "sensor_interval": (lambda seconds: seconds >= 1, "set a number of seconds >= 1"),
    "threads": (lambda threads: threads >= 0, "set 0 (this machine's cores) or a thread count"),
    "device": (_is_device, "set auto, cpu, cuda or cuda:N (a torch device)"),
    "cron_timezone": (_is_timezone, "set an IANA time zone such as UTC or Europe/Paris"),
    "train_cron": (is_valid_cron_string, _CRON_FIX),
    "observe_cron": (is_valid_cron_string, _CRON_FIX),
}


def _integer(value: str, variable: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{variable}={value!r} is not an integer.") from None


_ACTIVE: ContextVar[Settings | None] = ContextVar("golden_noise_settings", default=None)


def current_settings() -> Settings:
    """The settings of the definitions being built (``gn_dagster.definitions.build_definitions``
    makes them current while it loads ``gn_dagster/defs``), else ``Settings.from_env()``."""
    return _ACTIVE.get() or Settings.from_env()


@contextmanager
def settings_in_effect(settings: Settings) -> Iterator[None]:
    """Make ``settings`` current for the code in the ``with`` block."""
    token = _ACTIVE.set(settings)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
