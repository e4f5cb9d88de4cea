"""The same commit on the same machine reproduces the graph's numbers: two materializations of
the tiny graph, into separate storage roots and instances, give the same data versions; and a
run's torch CPU threads come from the `compute` resource."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from dagster import DagsterInstance, RunConfig, asset, materialize

from gn_dagster.demo import materialize_all
from gn_dagster.lineage import latest_materialization
from gn_dagster.partitions import prompt_shards, registered_shards
from gn_dagster.resources.models import ComputeResource
from gn_models.golden_noise.registry import MODEL_CLASSES
from gn_models.utils.device import machine_threads, set_cpu_threads
from helpers.graph import TINY, graph_definitions, write_tiny_prompts

UPSTREAM = ["base_model", "filter_reward_model", "judge_reward_model"]


def data_version(instance: DagsterInstance, name: str, partition: str | None = None) -> str:
    """The data version of the newest materialization of asset ``name`` (partition)."""
    version = latest_materialization(instance, name, partition).version
    assert version, f"{name}[{partition}] was not materialized"
    return version


def data_versions(instance: DagsterInstance, names: list[str]) -> dict[str, str]:
    """name -> data version of each asset of ``names``."""
    return {name: data_version(instance, name) for name in names}


@pytest.fixture(scope="module")
def again(tmp_path_factory) -> Iterator[DagsterInstance]:
    """The instance of a second materialization of the tiny graph (the first is the session's
    ``materialized``), under a root of its own, with what may differ between two runs made
    different: the shards registered in reverse order, and the process's torch CPU threads."""
    root: Path = tmp_path_factory.mktemp("graph_again")
    write_tiny_prompts(root)
    (root / "dagster_home").mkdir()
    defs = graph_definitions(root)
    with DagsterInstance.local_temp(str(root / "dagster_home")) as instance:
        shards = list(defs.resources["prompt_source"].shards())
        instance.add_dynamic_partitions(prompt_shards.name, shards[::-1])
        threads = torch.get_num_threads()
        torch.set_num_threads(threads + 1)
        try:
            materialize_all(defs, instance, TINY, log=lambda _: None)
        finally:
            torch.set_num_threads(threads)
        yield instance


def test_inputs_of_the_models_are_reproduced(materialized, again):
    """Base model, rewards and every shard of noise sequences: a difference here explains one
    in the checkpoints."""
    first, second = materialized.instance, again
    assert data_versions(first, UPSTREAM) == data_versions(second, UPSTREAM)
    shards = registered_shards(first)
    assert sorted(shards) == sorted(registered_shards(second))
    for shard in shards:
        assert data_version(first, "noise_sequences", shard) == data_version(
            second, "noise_sequences", shard
        ), shard


def test_every_checkpoint_is_reproduced(materialized, again):
    kinds = list(MODEL_CLASSES)
    assert data_versions(materialized.instance, kinds) == data_versions(again, kinds)


def test_scores_are_reproduced(materialized, again):
    assert data_version(materialized.instance, "scores") == data_version(again, "scores")


def test_a_run_uses_the_configured_cpu_threads_and_restores_them():
    seen = []

    @asset
    def uses_threads(compute: ComputeResource):
        seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    for threads in (None, 3):  # None: the default
        config = {} if threads is None else {"threads": threads}
        materialize(
            [uses_threads],
            resources={"compute": ComputeResource(device="cpu")},
            run_config=RunConfig(resources={"compute": {"config": config}}),
        )
        assert torch.get_num_threads() == before
    assert seen == [machine_threads(), 3]


def test_negative_cpu_threads_are_refused():
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        ComputeResource(threads=-1)
    with pytest.raises(ValueError, match="torch CPU threads must be 0"):
        set_cpu_threads(-1)
