"""``golden-noise demo`` and ``golden-noise ui``: ``make demo`` and ``make ui`` of the
repository, for users who cloned it, run from its root.

The Makefile holds the environment of both (``DAGSTER_HOME=./.dagster_home`` with the
repository's dagster.yaml, ``GN_STORAGE_ROOT`` defaulting to ``./artifacts``, the offline
Hugging Face hub) and installs the project first, so the shortcuts only call it. gn_models
never imports Dagster: the Dagster side runs in ``make``'s processes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

REPO_FILES = ("Makefile", "workspace.yaml", "dagster.yaml")


def repository_root() -> Path:
    """The current directory, when it is the repository's root.

    Raises:
        click.ClickException: the Makefile, workspace.yaml or dagster.yaml is not here.
    """
    root = Path.cwd()
    missing = [name for name in REPO_FILES if not (root / name).is_file()]
    if missing:
        raise click.ClickException(
            f"{', '.join(missing)} not found in {root}: run this from the root of the "
            "golden-noise repository (the folder with the Makefile, workspace.yaml and "
            "dagster.yaml), e.g. `cd golden-noise && golden-noise demo`."
        )
    return root


def make(target: str) -> None:
    """``make TARGET`` in the repository root; exits with its status when it fails."""
    root = repository_root()
    click.echo(f"$ make {target}", err=True)
    process = subprocess.Popen(["make", target], cwd=root)
    while True:
        try:
            status = process.wait()
            break
        except KeyboardInterrupt:  # Ctrl-C reached make too: let it shut down
            continue
    if status:
        sys.exit(status)


@click.command()
def demo():
    """Run the Dagster demo (`make demo`): materialize the whole graph on the digits profile.

    Run it from the repository root; the runs land in ./.dagster_home, the artifacts under
    ./artifacts (GN_STORAGE_ROOT). Afterwards `golden-noise ui` shows them.

    \b
    Example:
      cd golden-noise && golden-noise demo
    """
    make("demo")


@click.command()
def ui():
    """Open the Dagster web UI on the demo's instance (`make ui`; http://localhost:3000).

    Run it from the repository root.
    """
    make("ui")
