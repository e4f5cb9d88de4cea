"""Which Dagster executor runs the steps of a run, chosen by ``GN_EXECUTOR`` (``Settings``).

- ``in_process`` (default): every step of a run in the run's own process. The diffusion
  backend and the reward model are loaded once per run, and the GPU is used by one step at a
  time, which is what a single-GPU machine wants.
- ``multiprocess``: one process per step (several steps at once; each reloads its models).
- ``k8s``: ``dagster_k8s.k8s_job_executor``, one Kubernetes Job per step; give each step a GPU
  with ``deploy/k8s/executor.yaml``.
- ``celery``: ``dagster_celery.celery_executor``, steps as Celery tasks picked up by workers,
  one worker per GPU (``deploy/celery/``).

``k8s`` and ``celery`` need the ``scale`` extra (``pip install 'golden-noise[scale]'``); their
packages are imported only when chosen.

``GN_EXECUTOR_CONFIG`` names a YAML file whose ``execution: config:`` block is fixed into the
executor (``ExecutorDefinition.configured``), so every run gets it, whoever launches it: the UI,
the prompt sensor, the automation schedule. (A run config's ``execution`` block would reach only
the runs launched with it.) The Celery workers read the same file (``dagster-celery worker
start -y``), so runs and workers agree on the broker.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from dagster import ExecutorDefinition, in_process_executor, multiprocess_executor

DEFAULT_EXECUTOR = "in_process"
EXECUTOR_NAMES = ("in_process", "multiprocess", "k8s", "celery")
_SCALE_HINT = "pip install 'golden-noise[scale]'"


def executor_by_name(name: str = DEFAULT_EXECUTOR, config_file: str = "") -> ExecutorDefinition:
    """The executor named ``name`` ("" means ``in_process``), configured by the ``execution:
    config:`` block of the YAML ``config_file`` when one is given.

    Names are case-insensitive and may use ``-`` for ``_`` (``in-process``).

    Raises:
        ValueError: an unknown name (the message lists the choices), or a config file that is
            missing, is not YAML or has no ``execution: config:`` mapping (names the file).
        ImportError: ``k8s`` or ``celery`` without dagster-k8s / dagster-celery installed.
    """
    executor = _executor_named(name)
    if not config_file:
        return executor
    return executor.configured(read_executor_config(config_file), name=executor.name)


def read_executor_config(path: str) -> dict:
    """The ``execution: config:`` mapping of the YAML file at ``path``.

    Raises:
        ValueError: the file is missing or unreadable, is not YAML, or lacks the mapping.
    """
    where = f"GN_EXECUTOR_CONFIG={path!r}"
    try:
        document = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise ValueError(f"{where}: cannot read the file ({error.strerror}).") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{where} is not YAML: {error}") from None
    config = (document or {}).get("execution", {}) if isinstance(document, dict) else None
    config = config.get("config") if isinstance(config, dict) else None
    if not isinstance(config, dict):
        raise ValueError(
            f"{where} has no `execution: config:` mapping; see deploy/celery/executor.yaml."
        )
    return config


def _executor_named(name: str) -> ExecutorDefinition:
    key = name.strip().lower().replace("-", "_") or DEFAULT_EXECUTOR
    if key == "in_process":
        return in_process_executor
    if key == "multiprocess":
        return multiprocess_executor
    if key == "k8s":
        return _import_executor("dagster_k8s", "k8s_job_executor")
    if key == "celery":
        return _import_executor("dagster_celery", "celery_executor")
    raise ValueError(
        f"Unknown executor GN_EXECUTOR={name!r}: choose one of {', '.join(EXECUTOR_NAMES)}."
    )


def _import_executor(module: str, attribute: str) -> ExecutorDefinition:
    """``module.attribute``, with an install hint when the package is missing."""
    try:
        imported = importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"The {attribute} executor needs the {module.replace('_', '-')} package: {_SCALE_HINT}"
        ) from error
    return getattr(imported, attribute)
