"""The tiny materialized graph shared by the pipeline tests (see helpers.graph)."""

import shutil

import pytest
from dagster import DagsterInstance

from gn_dagster.demo import materialize_all
from helpers.graph import TINY, Materialized, graph_definitions, write_tiny_prompts


@pytest.fixture(scope="session")
def materialized(tmp_path_factory) -> Materialized:
    root = tmp_path_factory.mktemp("graph")
    train, evaluation = write_tiny_prompts(root)
    defs = graph_definitions(root)
    home = root / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        materialize_all(defs, instance, TINY, log=lambda _: None)
        yield Materialized(defs, instance, defs.resources["storage"], train, evaluation, root)


@pytest.fixture
def graph_copy(materialized, tmp_path) -> Materialized:
    """A private copy of the materialized graph (prompt files, artifacts, instance) for a
    test that edits prompts and reruns assets."""
    root = tmp_path / "graph"
    shutil.copytree(materialized.root, root)
    defs = graph_definitions(root)
    with DagsterInstance.local_temp(str(root / "dagster_home")) as instance:
        yield Materialized(
            defs, instance, defs.resources["storage"], root / "train.csv", root / "eval.csv", root
        )
