"""A throwaway Redis server on a loopback port: the Celery broker and result backend of the
scale-out tests. No persistence; stopped at the end."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager

from helpers.postgres import free_port


def redis_available() -> str | None:
    """None when ``redis-server`` is on the PATH; else why not."""
    if not shutil.which("redis-server"):
        return "redis-server not on the PATH (install Debian's redis-server package)"
    return None


@contextmanager
def redis_server(timeout: float = 20):
    """Start ``redis-server``; yield the Celery broker and backend environment
    (``DAGSTER_CELERY_BROKER_URL`` db 0, ``DAGSTER_CELERY_BACKEND_URL`` db 1)."""
    port = free_port()
    folder = tempfile.TemporaryDirectory(prefix="gn-redis-")
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(
        ["redis-server", *options, "--dir", folder.name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, server, timeout)
        url = f"redis://127.0.0.1:{port}"
        yield {"DAGSTER_CELERY_BROKER_URL": f"{url}/0", "DAGSTER_CELERY_BACKEND_URL": f"{url}/1"}
    finally:
        server.terminate()
        server.wait(timeout=30)
        folder.cleanup()


def _wait_for_port(port: int, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, f"redis-server exited with {server.returncode}"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"redis-server did not listen on port {port} in {timeout} s")
