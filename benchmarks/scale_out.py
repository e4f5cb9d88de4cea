"""Scale-out overhead: collecting S shards in process vs through the Celery executor.

Starts a throwaway PostgreSQL instance (deploy/postgres/dagster.yaml) and a Redis broker on
loopback (the test helpers' servers), prepares the digits models once, then collects the same
S shards of the demo's prompts (the demo's collection config, so the demo's shard size) five
ways, each as the user would run it:

  in_process         one run per shard, one after another, in this process (`make demo`);
  run processes      the same, each run in its own `dagster job execute` process, as a run
                     launcher starts it (the daemon's queue, the UI), in_process executor;
  celery x1, serial  each run in its own process, its steps through one Celery worker, one
                     run after another;
  celery x1          all S runs launched at once (`make scale-demo`), one Celery worker;
  celery x2          the same with two workers.

The differences of the serial modes split the overhead per shard into what a run process
costs (run processes - in_process) and what the Celery executor adds to a run's steps
(celery x1 serial - run processes), each as a fraction of a shard's in-process compute
(target: Dagster + Celery <= 10%). The serial Celery runs' event logs split the Celery part
per step: submit -> the worker starts the task (queue, broker, loading the job), task start ->
STEP_START, the step itself, and STEP_SUCCESS -> the run process has the result. On this
2-core machine the two workers share the cores (GN_THREADS = cores / workers each, as in
`make scale-demo`), so x2's speed-up is bounded by the cores: it is reported, not expected.

Usage: python benchmarks/scale_out.py [--shards 4]
Needs Debian's postgresql and redis-server packages and `pip install -e '.[scale]'`.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the loopback servers and the tiny-model definitions

from dagster import DagsterEventType, DagsterInstance  # noqa: E402

from gn_dagster.definitions import build_definitions  # noqa: E402
from gn_dagster.demo import register_source_shards, run_job, run_partitions  # noqa: E402
from gn_dagster.launch import CodeLocation  # noqa: E402
from gn_dagster.settings import Settings  # noqa: E402
from helpers.celery_workers import EXECUTOR_YAML, start_workers, stop_workers  # noqa: E402
from helpers.graph import tiny_resources  # noqa: E402
from helpers.postgres import postgres_server  # noqa: E402
from helpers.redis import redis_server  # noqa: E402

CODE = CodeLocation("helpers.scale_defs", working_directory=str(REPO / "tests"))
COLLECT = "collect_noise_sequences"
SUBMITTED = "Submitting celery task for step"
IN_WORKER = "in celery worker"
PHASES = ["queue + task start", "task start -> STEP_START", "step", "result back"]


def quiet(_: str) -> None:
    pass


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@contextmanager
def in_process_runs():
    """The in_process executor for the run processes started inside (they inherit the
    environment)."""
    previous = {key: os.environ.pop(key) for key in ("GN_EXECUTOR", "GN_EXECUTOR_CONFIG")}
    try:
        yield
    finally:
        os.environ.update(previous)


@contextmanager
def workers(count: int, env: dict, logs: Path):
    """``count`` CPU workers, sharing the cores as `make scale-demo` shares them."""
    threads = {"GN_THREADS": str(max(1, os.cpu_count() // count))}
    running = start_workers({f"gpu{i}": "cpu" for i in range(count)}, env | threads, logs)
    try:
        yield
    finally:
        stop_workers(running)


def one_by_one(defs, instance, shards) -> list:
    """Each shard's run in its own process, one after another; the runs."""
    return [run_partitions(CODE, defs, instance, COLLECT, [s], None, quiet)[0] for s in shards]


def step_phases(instance, run) -> dict[str, list[float]]:
    """Seconds of each phase of ``PHASES`` for every step of a Celery run, from its events."""
    records = instance.all_logs(run.run_id)
    phases = {phase: [] for phase in PHASES}
    for step in {r.step_key for r in records if r.step_key}:
        own = [r for r in records if r.step_key == step]
        submitted = _first(own, lambda r: SUBMITTED in r.message)
        started = _first(own, lambda r: IN_WORKER in r.message)
        begin = _first(own, lambda r: _type(r) == DagsterEventType.STEP_START)
        end = _first(own, lambda r: _type(r) == DagsterEventType.STEP_SUCCESS)
        after = [r.timestamp for r in records if r.timestamp > end and not r.step_key]
        if None in (submitted, started, begin, end) or not after:
            continue
        phases[PHASES[0]].append(started - submitted)
        phases[PHASES[1]].append(begin - started)
        phases[PHASES[2]].append(end - begin)
        phases[PHASES[3]].append(min(after) - end)
    return phases


def _type(record):
    return record.dagster_event.event_type if record.dagster_event else None


def _first(records, predicate) -> float | None:
    times = [r.timestamp for r in records if predicate(r)]
    return min(times) if times else None


def print_report(seconds: dict[str, float], shards: int, phases: dict[str, list[float]]):
    local = seconds["in_process"]
    print("\n| mode | wall s | vs in_process |\n|---|---|---|")
    for name, value in seconds.items():
        print(f"| {name} | {value:.1f} | {value / local:.2f}x |")
    compute = local / shards
    run_process = (seconds["run processes"] - local) / shards
    celery = (seconds["celery x1, serial"] - seconds["run processes"]) / shards
    print(f"\nPer shard: compute {compute:.1f} s in process.")
    print(
        f"  a run process (start, imports, definitions) adds {run_process:.1f} s = "
        f"{run_process / compute:.1%}"
    )
    print(f"  the Celery executor adds {celery:.1f} s = {celery / compute:.1%}")
    total = run_process + celery
    print(f"  Dagster + Celery together: {total:.1f} s = {total / compute:.1%} (target <= 10%)")
    print("\nCelery steps of the serial runs, s (median, max, n steps):")
    for phase, values in phases.items():
        if values:
            print(f"  {phase}: {statistics.median(values):.2f}, {max(values):.2f}, {len(values)}")
    one, two = seconds["celery x1"], seconds["celery x2"]
    print(f"\nAll runs at once: two workers vs one {one / two:.2f}x on {os.cpu_count()} cores.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=4, help="S, shards collected per mode")
    args = parser.parse_args()
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gn-scale-")))
        env = stack.enter_context(postgres_server()) | stack.enter_context(redis_server())
        env |= {
            "DAGSTER_HOME": str(root / "dagster_home"),
            "GN_STORAGE_ROOT": str(root / "artifacts"),
            "GN_EXECUTOR": "celery",
            "GN_EXECUTOR_CONFIG": str(EXECUTOR_YAML),
            "GN_DEVICE": "cpu",
        }
        os.environ.update(env)
        (root / "dagster_home").mkdir()
        shutil.copy(REPO / "deploy/postgres/dagster.yaml", root / "dagster_home/dagster.yaml")
        defs = build_definitions(Settings.from_env(), **tiny_resources())
        instance = stack.enter_context(DagsterInstance.get())
        shards = register_source_shards(defs, instance)[: args.shards]
        print(f"Preparing the models; then {len(shards)} shards of the demo's prompts per mode.")
        run_job(defs, instance, "prepare_models", log=quiet)
        seconds = {}
        seconds["in_process"] = timed(
            lambda: [run_job(defs, instance, COLLECT, s, log=quiet) for s in shards]
        )
        with in_process_runs():
            seconds["run processes"] = timed(lambda: one_by_one(defs, instance, shards))
        with workers(1, env, root / "logs1"):
            start = time.perf_counter()
            serial = one_by_one(defs, instance, shards)
            seconds["celery x1, serial"] = time.perf_counter() - start
            phases = {phase: [] for phase in PHASES}
            for run in serial:
                for phase, values in step_phases(instance, run).items():
                    phases[phase] += values
            seconds["celery x1"] = timed(
                lambda: run_partitions(CODE, defs, instance, COLLECT, shards, None, quiet)
            )
        with workers(2, env, root / "logs2"):
            seconds["celery x2"] = timed(
                lambda: run_partitions(CODE, defs, instance, COLLECT, shards, None, quiet)
            )
    print_report(seconds, len(shards), phases)


if __name__ == "__main__":
    main()
