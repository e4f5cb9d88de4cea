"""Writer processes for fault-injection tests (helpers/fault_writer.py), killed for real, and
stopping a process with its children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def start_writer(*args: str) -> subprocess.Popen:
    """``python -m helpers.fault_writer *args`` in a new process (same environment, so the
    same S3 endpoint; tests/ and the repository on its path)."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    return subprocess.Popen(
        [sys.executable, "-m", "helpers.fault_writer", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_writer(*args: str, timeout: float = 300) -> None:
    """Run a writer to completion; fail with its output if it fails."""
    process = start_writer(*args)
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out


def kill_writer_at(point: str, ready: Path, *args: str, timeout: float = 300) -> None:
    """Start a writer, wait until it reaches ``point``, SIGKILL it."""
    process = start_writer(*args, "--point", point, "--ready", str(ready))
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if process.poll() is not None:
            raise AssertionError(f"writer exited before {point!r}: {process.stdout.read()}")
        assert time.monotonic() < deadline, f"writer never reached {point!r}"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def stop_process_group(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the session that ``process`` leads (started with ``start_new_session=True``:
    its children too), SIGKILL it if ``process`` is still there after ``timeout`` s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            continue
