"""The ``golden-noise`` command line (``[project.scripts]`` in pyproject.toml): the paper's
metrics on image folders without Dagster, and shortcuts to the Dagster demo and UI."""

import click

from gn_models.cli.compare import compare
from gn_models.cli.generate import generate
from gn_models.cli.score import score
from gn_models.cli.shortcuts import demo, ui


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="golden-noise", prog_name="golden-noise")
def main():
    """Golden noise (NPNet, arXiv:2411.09502) for text-to-image diffusion, without Dagster.

    \b
    generate standard + golden images:     golden-noise generate -p MODEL -g NPNET --prompt P
    score    score an image folder:        golden-noise score images/ -m pickscore
    compare  B against A, image by image:  golden-noise compare standard/ golden/ -m hpsv2
    demo     the Dagster demo (repo root): golden-noise demo
    ui       the Dagster web UI on it:     golden-noise ui

    `golden-noise COMMAND --help` tells more.
    """


for command in (generate, score, compare, demo, ui):
    main.add_command(command)
