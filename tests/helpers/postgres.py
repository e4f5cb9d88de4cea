"""A throwaway PostgreSQL cluster on a loopback port, for tests of the Postgres instance.

``initdb`` into a temporary folder, ``pg_ctl start`` on a free port of 127.0.0.1, a database
``golden_noise``; stopped and removed at the end. Postgres refuses to run as root, so as root
the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

USER, DATABASE = "gn", "golden_noise"


def postgres_available() -> str | None:
    """None when initdb and pg_ctl are on the PATH (and, as root, a ``postgres`` user
    exists); else why not."""
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        return "initdb/pg_ctl not on the PATH (install the postgresql server package)"
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode:
        return "running as root without a `postgres` user to run the server as"
    return None


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server():
    """Start a cluster; yield the ``DAGSTER_PG_*`` environment that points
    ``deploy/postgres/dagster.yaml`` at it."""
    folder = Path(tempfile.mkdtemp(prefix="gn-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()

    bin_dir = Path(os.path.realpath(shutil.which("initdb"))).parent  # one server version

    def run(program: str, *args: str) -> None:
        command = [str(bin_dir / program), *args]
        done = subprocess.run(_as_server_user(command), capture_output=True, text=True)
        assert done.returncode == 0, f"{program} failed: {done.stdout}{done.stderr}"

    run("initdb", "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    run("pg_ctl", "-D", str(data), "-l", str(folder / "log"), "-o", options, "-w", "start")
    try:
        run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE)
        yield {
            "DAGSTER_PG_USERNAME": USER,
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(port),
        }
    finally:
        stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
        subprocess.run(_as_server_user(stop), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
