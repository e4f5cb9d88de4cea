"""The Dagster daemon as a separate process (`dagster-daemon run`), as `dagster dev` or a
deployment starts it, and polling helpers for tests that wait on what it does."""

from __future__ import annotations

import datetime
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from helpers.processes import stop_process_group


def wait_for(condition, timeout: float, what: str, every: float = 1.0):
    """Poll ``condition()`` until it returns a truthy value; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}.")


def far_from_now_daily_cron() -> str:
    """A daily UTC cron whose tick is at least 11 hours away."""
    hour = (datetime.datetime.now(datetime.UTC).hour + 12) % 24
    return f"0 {hour} * * *"


def module_workspace(path: Path, module: str, working_directory: Path) -> Path:
    """A workspace.yaml at ``path`` whose one code location is the Python ``module``."""
    location = {"module_name": module, "working_directory": str(working_directory)}
    path.write_text(yaml.safe_dump({"load_from": [{"python_module": location}]}))
    return path


@contextmanager
def dagster_daemon(workspace: Path, env: dict[str, str], log: Path):
    """`dagster-daemon run -w workspace` with ``env`` (its sensors, run queue and run
    monitoring) until the block ends; then the daemon and the runs it launched are
    stopped (one process group)."""
    command = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace)]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        stop_process_group(process)
