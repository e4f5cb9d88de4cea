"""The instance of deploy/postgres/dagster.yaml against a real PostgreSQL server on loopback:
the tiny graph runs with runs, event logs, data versions, asset checks and dynamic partitions
in Postgres, and a second instance object (as the webserver would hold) reads the same
lineage and staleness. A real `dagster-daemon` ticks the prompt sensor on it: the cursor,
the ticks and the runs the queue launches live in Postgres too."""

import os
import shutil

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from gn_dagster.definitions import build_definitions
from gn_dagster.defs.prompts.sensor import PromptCursor
from gn_dagster.demo import materialize_all, run_job
from gn_dagster.lineage import latest_materialization
from gn_dagster.partitions import prompt_shards
from gn_models.data.shards import hash_shard_keys, shard_of, shard_version
from helpers.daemon import dagster_daemon, far_from_now_daily_cron, module_workspace, wait_for
from helpers.graph import TINY, graph_definitions, tiny_resources, tiny_settings, write_tiny_prompts
from helpers.paths import REPO
from helpers.postgres import postgres_available, postgres_server
from helpers.staleness import stale_assets

MISSING = postgres_available()
if MISSING and os.environ.get("GN_REQUIRE_SERVERS"):  # set by .ci/run
    raise RuntimeError(f"CI must run the Postgres tests: {MISSING}")
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
NUM_SHARDS = 2  # the daemon's runs: one process each


@pytest.fixture
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


SENSOR = "prompt_sensor"


def test_the_daemon_keeps_the_sensor_cursor_and_its_runs_in_postgres(postgres_env, tmp_path):
    """`dagster-daemon run` on the Postgres instance: the prompt sensor's first tick
    registers the shards and requests one run per shard, the run queue launches them; an
    edited prompt reruns its shard only; a second instance reads the sensor's cursor, ticks
    and runs from Postgres."""
    train, _ = write_tiny_prompts(tmp_path)
    home = postgres_home(tmp_path / "dagster_home")
    env = os.environ | {
        "DAGSTER_HOME": home,
        "GN_STORAGE_ROOT": str(tmp_path / "artifacts"),
        "GN_TRAIN_PROMPTS": str(train),
        "GN_EVAL_PROMPTS": str(tmp_path / "eval.csv"),
        "GN_DEVICE": "cpu",
        "GN_NUM_SHARDS": str(NUM_SHARDS),
        "GN_SENSOR_INTERVAL": "2",
        "GN_TRAIN_CRON": far_from_now_daily_cron(),  # the nightly retrain stays out of it
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]),
    }
    for key in ("GN_EXECUTOR", "GN_EXECUTOR_CONFIG"):
        env.pop(key, None)
    defs = build_definitions(tiny_settings(tmp_path, num_shards=NUM_SHARDS), **tiny_resources())
    with DagsterInstance.from_config(home) as instance:
        run_job(defs, instance, "prepare_models", run_config=TINY, log=lambda _: None)
    shards = hash_shard_keys(NUM_SHARDS)
    old, new = "a handwritten digit seven", "an inked handwritten digit seven"
    changed = sorted({shards[shard_of(text, NUM_SHARDS)] for text in (old, new)})
    workspace = module_workspace(tmp_path / "workspace.yaml", "helpers.scale_defs", REPO / "tests")
    log = tmp_path / "daemon.log"
    with dagster_daemon(workspace, env, log), DagsterInstance.from_config(home) as reader:
        first = sensor_runs_done(reader, len(shards), log)
        assert sorted(r.tags["dagster/partition"] for r in first) == shards
        assert f"\n{old}," in train.read_text()
        train.write_text(train.read_text().replace(f"\n{old},", f"\n{new},"))
        runs = sensor_runs_done(reader, len(shards) + len(changed), log)
    assert sorted(r.tags["dagster/partition"] for r in runs[: len(changed)]) == changed

    with DagsterInstance.from_config(home) as reader:  # after the daemon: all in Postgres
        [state] = [s for s in reader.all_instigator_state() if s.name == SENSOR]
        cursor = PromptCursor.parse(state.instigator_data.cursor)
        source = defs.resources["prompt_source"].shards()
        assert cursor.versions == {key: shard_version(source.get(key, [])) for key in shards}
        ticks = reader.get_ticks(state.instigator_origin_id, state.selector_id, limit=100)
        assert sum(len(tick.run_ids) for tick in ticks) == len(shards) + len(changed)
        assert sorted(reader.get_dynamic_partitions(prompt_shards.name)) == shards
        for shard in shards:
            assert latest_materialization(reader, "noise_sequences", shard).version


def sensor_runs_done(instance: DagsterInstance, count: int, log) -> list:
    """The prompt sensor's runs (newest first) once there are ``count`` and all succeeded."""

    def done():
        runs = instance.get_runs(RunsFilter(tags={"dagster/sensor_name": SENSOR}))
        if len(runs) < count or not all(run.is_finished for run in runs):
            return None
        failed = [run.run_id for run in runs if run.status != DagsterRunStatus.SUCCESS]
        assert not failed, f"runs {failed} failed; daemon log:\n{log.read_text()[-3000:]}"
        return runs

    return wait_for(done, 420, f"{count} prompt-sensor runs to succeed", every=2)
