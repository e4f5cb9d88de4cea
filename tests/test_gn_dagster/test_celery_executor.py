"""The Celery executor for real: a Redis broker and the Postgres instance on loopback, two
`dagster-celery worker` processes started as deploy/celery/README.md says (each with its own
GN_DEVICE), and noise collection for several shards launched at once, as `make scale-demo`
does. Steps must run in both workers and give the data versions of an in-process run; a
worker's pool process killed mid-step (what the OOM killer does) fails that run with a clear
message and leaves every shard complete."""

import os
import shutil
import threading
import time

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from gn_dagster.definitions import build_definitions
from gn_dagster.demo import register_source_shards, run_job, run_partitions
from gn_dagster.launch import CodeLocation, RunFailedError
from gn_dagster.lineage import latest_materialization
from gn_dagster.settings import Settings
from gn_models.data.noise_sequence_store import shard_url, verify_shard
from gn_models.utils.versions import read_pointer
from helpers.celery_workers import EXECUTOR_YAML, start_workers, stop_workers
from helpers.graph import TINY, tiny_resources, write_tiny_prompts
from helpers.paths import REPO
from helpers.postgres import postgres_available, postgres_server
from helpers.redis import redis_available, redis_server

MISSING = postgres_available() or redis_available()
if MISSING and os.environ.get("GN_REQUIRE_SERVERS"):  # set by .ci/run
    raise RuntimeError(f"CI must run the Celery tests: {MISSING}")
pytestmark = [
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
    pytest.mark.timeout(900),  # a lost Celery task would leave its run waiting forever
]
SHARDS = 4  # collected through Celery; the rest of the 8 shards stay in-process only
DEVICES = {"gpu0": "cpu", "gpu1": "cpu:0"}  # one GN_DEVICE per worker (cuda:0, cuda:1 on GPUs)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Postgres + Redis + the graph's settings in the environment; the tiny graph's models
    prepared and every shard collected in process (the reference)."""
    root = tmp_path_factory.mktemp("celery")
    write_tiny_prompts(root)
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    with postgres_server() as pg, redis_server() as broker, pytest.MonkeyPatch.context() as env:
        graph = {
            "DAGSTER_HOME": str(home),
            "GN_STORAGE_ROOT": str(root / "artifacts"),
            "GN_TRAIN_PROMPTS": str(root / "train.csv"),
            "GN_EVAL_PROMPTS": str(root / "eval.csv"),
            "GN_EXECUTOR": "celery",
            "GN_EXECUTOR_CONFIG": str(EXECUTOR_YAML),
            "GN_DEVICE": "cpu",
        }
        for key, value in (pg | broker | graph).items():
            env.setenv(key, value)
        defs = build_definitions(Settings.from_env(), **tiny_resources())
        with DagsterInstance.get() as instance:
            shards = register_source_shards(defs, instance)[:SHARDS]
            quiet = {"run_config": TINY, "log": lambda _: None}
            run_job(defs, instance, "prepare_models", **quiet)
            for shard in shards:
                run_job(defs, instance, "collect_noise_sequences", shard, **quiet)
            reference = {s: latest_materialization(instance, NOISE, s).version for s in shards}
            # The first two noise steps must run at once: in both workers (helpers.scale_defs).
            rendezvous = {"GN_TEST_RENDEZVOUS": str(root / "rendezvous")}
            workers = start_workers(DEVICES, pg | broker | graph | rendezvous, root / "logs")
            try:
                yield defs, instance, shards, reference, workers
            finally:
                stop_workers(workers)


NOISE = "noise_sequences"
CODE = CodeLocation("helpers.scale_defs", working_directory=str(REPO / "tests"))


def materializations(instance: DagsterInstance, run_id: str) -> list:
    logs = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    return [entry.asset_materialization for entry in logs if entry.step_key == NOISE]


def celery_steps(instance: DagsterInstance, run_id: str) -> dict[str, str]:
    """step key -> the Celery worker that ran it, from the run's engine events."""
    steps = {}
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        metadata = entry.dagster_event.engine_event_data.metadata
        if "Celery worker" in metadata:
            steps[entry.step_key] = metadata["Celery worker"].value
    return steps


def collect(defs, instance, shards):
    """Collect ``shards`` at once, one run process each (as `make scale-demo` does)."""
    return run_partitions(CODE, defs, instance, "collect_noise_sequences", shards, TINY, print)


def test_shards_run_in_both_workers_with_in_process_data_versions(cluster):
    defs, instance, shards, reference, workers = cluster
    start = time.perf_counter()
    runs = collect(defs, instance, shards)
    seconds = time.perf_counter() - start
    devices = {worker.name: worker.device for worker in workers}
    ran = {}
    for run, shard in zip(runs, shards, strict=True):
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.SUCCESS
        steps = celery_steps(instance, run.run_id)
        assert set(steps) == {"prompts", NOISE, f"{NOISE}_checks"}, steps  # all through Celery
        ran[shard] = steps[NOISE]
        [materialization] = materializations(instance, run.run_id)  # completed once
        metadata = materialization.metadata
        assert metadata["device"].value == devices[ran[shard]]  # the worker's own GN_DEVICE
        assert latest_materialization(instance, NOISE, shard).version == reference[shard]
    assert set(ran.values()) == set(devices), f"steps ran only in {ran} ({seconds:.0f} s)"


def test_a_killed_worker_process_fails_its_run_and_loses_no_shard(cluster):
    defs, instance, shards, _, workers = cluster
    storage = defs.resources["storage"]
    before = {s: current_version(storage.noise_sequence_store, s) for s in shards}
    victim = workers[1]
    killed = threading.Event()
    threading.Thread(target=kill_when_busy, args=(instance, victim, killed), daemon=True).start()
    with pytest.raises(RunFailedError, match="Worker exited prematurely: signal 9") as failure:
        collect(defs, instance, shards)
    assert killed.is_set()
    assert NOISE in str(failure.value)  # names the step
    failed = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
    assert len(failed) == 1
    for shard in shards:  # every shard: a complete version, the one its data version names
        version = latest_materialization(instance, NOISE, shard).version
        verdict, _ = verify_shard(storage.noise_sequence_store, shard, version)
        assert verdict.passed, verdict.description
    killed_shard = failed[0].tags["dagster/partition"]
    assert current_version(storage.noise_sequence_store, killed_shard) == before[killed_shard]
    for shard in set(shards) - {killed_shard}:  # the others completed once more
        assert current_version(storage.noise_sequence_store, shard) != before[shard]
    # The pool process is replaced: the worker takes the failed shard's rerun.
    [rerun] = collect(defs, instance, [killed_shard])
    assert instance.get_run_by_id(rerun.run_id).status == DagsterRunStatus.SUCCESS


def current_version(store: str, shard: str) -> str:
    return read_pointer(shard_url(store, shard))["version"]


def kill_when_busy(instance, worker, killed: threading.Event, timeout: float = 300) -> None:
    """SIGKILL ``worker``'s pool process once it has started a noise_sequences step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED])):
            if celery_steps(instance, run.run_id).get(NOISE) == worker.name:
                for process in worker.pool_processes():
                    process.kill()
                killed.set()
                return
        time.sleep(0.2)
