"""Runs launched in processes of their own (``dagster job execute``), as a run worker does.

For executors whose steps run elsewhere (the Celery workers), several runs go on at once, one
process each: Dagster's execution is not thread-safe, and concurrent runs in threads of one
process deadlock in its logging setup (measured: three of four threads stuck on the logging
lock before their first step). Each run is tagged with one launch id so that it is found in
the instance afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

LAUNCH_TAG = "golden-noise/launch"


@dataclass(frozen=True)
class CodeLocation:
    """Where a run's process loads the definitions from: ``module``'s ``attribute`` (the
    ``-m``/``-a`` of ``dagster job execute``), imported with ``working_directory`` on the
    path."""

    module: str = "gn_dagster.definitions"
    attribute: str = "defs"
    working_directory: str = "."


class RunFailedError(RuntimeError):
    """One or more launched runs did not succeed; the message names each run, its partition
    and the end of its output (the step error)."""


def run_in_processes(
    code: CodeLocation,
    instance: DagsterInstance,
    job_name: str,
    partitions: list[str | None],
    run_config: dict,
) -> list[DagsterRun]:
    """Run ``job_name`` once per partition (``None``: an unpartitioned run), all at once, each
    in its own ``dagster job execute`` process on the instance at DAGSTER_HOME (the same as
    ``instance``); wait for all; return the runs in the order of ``partitions``.

    Raises:
        RunFailedError: a run failed, or its process ended without recording one; raised after
            every process has ended, so runs that succeeded stay complete.
    """
    launch = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="gn-launch-") as folder:
        config = Path(folder) / "run_config.yaml"
        config.write_text(yaml.safe_dump(run_config))
        processes = [
            _start(code, job_name, partition, config, launch, Path(folder) / f"{index}.log")
            for index, partition in enumerate(partitions)
        ]
        outputs = [_wait(process, log) for process, log in processes]
    runs = {_partition(run): run for run in _launched(instance, launch)}
    failures = [
        f"{job_name}[{partition}] ({_describe(runs.get(partition))}):\n{output}"
        for partition, output in zip(partitions, outputs, strict=True)
        if partition not in runs or runs[partition].status != DagsterRunStatus.SUCCESS
    ]
    if failures:
        raise RunFailedError("\n\n".join(failures))
    return [runs[partition] for partition in partitions]


def _start(code, job_name, partition, config: Path, launch: str, log: Path):
    tags = {LAUNCH_TAG: launch} | ({"dagster/partition": partition} if partition else {})
    command = [
        *(sys.executable, "-m", "dagster", "job", "execute", "-j", job_name, "-c", str(config)),
        *("-m", code.module, "-a", code.attribute, "-d", code.working_directory),
        *("--tags", json.dumps(tags)),
    ]
    output = log.open("w")
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    output.close()
    return process, log


def _wait(process: subprocess.Popen, log: Path, lines: int = 25) -> str:
    """Wait for the process; the last ``lines`` of its output."""
    process.wait()
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _launched(instance: DagsterInstance, launch: str) -> list[DagsterRun]:
    return list(instance.get_runs(RunsFilter(tags={LAUNCH_TAG: launch})))


def _partition(run: DagsterRun) -> str | None:
    return run.tags.get("dagster/partition")


def _describe(run: DagsterRun | None) -> str:
    return f"run {run.run_id[:8]} {run.status.value}" if run else "no run recorded"
