"""The instance of deploy/postgres/dagster.yaml against a real PostgreSQL server on loopback:
the tiny graph runs with runs, event logs, data versions, asset checks and dynamic partitions
in Postgres, and a second instance object (as the webserver would hold) reads the same
lineage and staleness."""

import os
import shutil

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance, DagsterRunStatus

from gn_dagster.demo import materialize_all
from gn_dagster.lineage import latest_materialization
from gn_dagster.partitions import prompt_shards
from helpers.graph import TINY, graph_definitions, write_tiny_prompts
from helpers.paths import REPO
from helpers.postgres import postgres_available, postgres_server
from helpers.staleness import stale_assets

MISSING = postgres_available()
if MISSING and os.environ.get("GN_REQUIRE_SERVERS"):  # set by .ci/run
    raise RuntimeError(f"CI must run the Postgres tests: {MISSING}")
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@pytest.fixture(scope="module")
def postgres_env():
    with postgres_server() as env, pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield env


def postgres_home(path):
    path.mkdir()
    shutil.copy(REPO / "deploy" / "postgres" / "dagster.yaml", path / "dagster.yaml")
    return str(path)


def test_the_graph_lives_in_postgres_and_a_second_instance_reads_it(postgres_env, tmp_path):
    root = tmp_path / "graph"
    root.mkdir()
    write_tiny_prompts(root)
    defs = graph_definitions(root)
    home = postgres_home(tmp_path / "dagster_home")
    with DagsterInstance.from_config(home) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        materialize_all(defs, instance, TINY, log=lambda _: None)
        shards = sorted(instance.get_dynamic_partitions(prompt_shards.name))
    with DagsterInstance.from_config(home) as reader:  # another process's view
        assert type(reader.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert sorted(reader.get_dynamic_partitions(prompt_shards.name)) == shards
        runs = reader.get_runs()
        assert runs and all(run.status == DagsterRunStatus.SUCCESS for run in runs)
        for shard in shards:
            assert latest_materialization(reader, "noise_sequences", shard).version
        check = AssetCheckKey(AssetKey("noise_sequences"), "shard_matches_data_version")
        evaluations = reader.event_log_storage.get_asset_check_execution_history(check, limit=50)
        assert len(evaluations) >= len(shards)
        graph = defs.resolve_asset_graph()
        for key in graph.materializable_asset_keys:  # every asset materialized, with a version
            if graph.get(key).partitions_def is None:
                assert latest_materialization(reader, key.to_user_string()).version, key
        assert stale_assets(defs, reader) == {}  # the same lineage: nothing stale
