"""Celery workers started the way deploy/celery/README.md starts them (`dagster-celery worker
start -A dagster_celery.app -i gn_dagster.definitions -y deploy/celery/executor.yaml -q gpu
-n NAME -- --concurrency=1`), each with its own GN_DEVICE, in its own session so that stopping
one stops its pool too."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from helpers.paths import REPO
from helpers.processes import stop_process_group

TESTS = REPO / "tests"
EXECUTOR_YAML = REPO / "deploy" / "celery" / "executor.yaml"


@dataclass
class Worker:
    """One running worker: its Celery node name (``gpu0@host``, what Dagster records as the
    step's "Celery worker"), device setting, process and log file."""

    name: str
    device: str
    process: subprocess.Popen
    log: Path

    def pool_processes(self) -> list[psutil.Process]:
        """The worker's prefork pool processes (the ones that run steps)."""
        main = [p for p in psutil.Process(self.process.pid).children() if "celery" in p.name()]
        return [child for process in main for child in process.children()]

    def stop(self) -> None:
        """SIGTERM the worker's whole session (warm shutdown), SIGKILL after 30 s."""
        if self.process.poll() is None:
            stop_process_group(self.process)


def worker_environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus what a worker process needs here: the venv's ``celery`` on the PATH, and
    the repository and tests/ (for ``helpers.scale_defs``) on the Python path."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return os.environ | env | {"PATH": path, "PYTHONPATH": f"{TESTS}{os.pathsep}{REPO}"}


def start_workers(
    devices: dict[str, str], env: dict[str, str], logs: Path, timeout: float = 180
) -> list[Worker]:
    """Start one worker per ``name -> GN_DEVICE`` of ``devices`` with ``env`` (GN_THREADS
    there sets each worker's torch threads); wait until each says it is ready (Celery's
    "ready." log line)."""
    logs.mkdir(parents=True, exist_ok=True)
    workers = []
    for name, device in devices.items():
        log = logs / f"{name}.log"
        command = [
            *(str(Path(sys.executable).parent / "dagster-celery"), "worker", "start"),
            *("-A", "dagster_celery.app", "-i", "gn_dagster.definitions"),
            *("-y", str(EXECUTOR_YAML), "-q", "gpu", "-n", name),
            *("--", "--concurrency=1"),
        ]
        process = subprocess.Popen(
            command,
            env=worker_environment(env | {"GN_DEVICE": device}),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=REPO,
        )
        workers.append(Worker(f"{name}@{socket.gethostname()}", device, process, log))
    try:
        for worker in workers:
            _wait_ready(worker, timeout)
    except BaseException:
        stop_workers(workers)
        raise
    return workers


def stop_workers(workers: list[Worker]) -> None:
    for worker in workers:
        worker.stop()


def _wait_ready(worker: Worker, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = worker.log.read_text()
        if f"{worker.name} ready." in text:
            return
        assert worker.process.poll() is None, f"worker {worker.name} exited:\n{text}"
        time.sleep(0.5)
    text = worker.log.read_text()
    raise AssertionError(f"worker {worker.name} not ready in {timeout} s:\n{text}")
