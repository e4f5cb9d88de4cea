"""Scale-out overhead: collecting S shards in process vs through the Celery executor.

Starts a throwaway PostgreSQL instance (deploy/postgres/dagster.yaml) and a Redis broker on
loopback (the test helpers' servers), prepares the digits models once, then collects the same
S shards of the demo's prompts (the demo's collection config, so the demo's shard size) three
ways, each as the user would run it:

  in_process   one run per shard, one after another, in this process (`make demo`);
  celery x1    all S runs launched at once (`make scale-demo`), one Celery worker;
  celery x2    the same with two workers.

It prints each wall time, the ratios to in-process, and the overhead that Dagster + Celery add
per shard: (celery x1 - in_process) / S, as a fraction of a shard's in-process compute (target
<= 10%). A run process (`dagster job execute`) and the Celery task around each step are the
overhead; their imports overlap the worker's compute. On this 2-core machine the two workers
share the cores (each uses torch's threads), so x2's speed-up is bounded by the cores: it is
reported, not expected.

Usage: python benchmarks/scale_out.py [--shards 4]
Needs Debian's postgresql and redis-server packages and `pip install -e '.[scale]'`.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the loopback servers and the tiny-model definitions

from dagster import DagsterInstance  # noqa: E402

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


def quiet(_: str) -> None:
    pass


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def celery_seconds(defs, instance, shards, env: dict, workers: int, logs: Path) -> float:
    """Wall time of the shards' runs launched at once, with ``workers`` Celery workers."""
    running = start_workers({f"gpu{i}": "cpu" for i in range(workers)}, env, logs)
    try:
        return timed(lambda: run_partitions(CODE, defs, instance, COLLECT, shards, None, quiet))
    finally:
        stop_workers(running)


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
        local = timed(lambda: [run_job(defs, instance, COLLECT, s, log=quiet) for s in shards])
        one = celery_seconds(defs, instance, shards, env, 1, root / "logs1")
        two = celery_seconds(defs, instance, shards, env, 2, root / "logs2")
    per_shard = local / len(shards)
    overhead = (one - local) / len(shards)
    print("\n| mode | wall s | vs in_process |\n|---|---|---|")
    for name, seconds in [("in_process", local), ("celery x1", one), ("celery x2", two)]:
        print(f"| {name} | {seconds:.1f} | {seconds / local:.2f}x |")
    print(
        f"\nPer shard: compute {per_shard:.1f} s in process; Dagster + Celery add "
        f"{overhead:.1f} s = {overhead / per_shard:.1%} of it (target <= 10%)."
    )
    print(f"Two workers vs one: {one / two:.2f}x faster on {os.cpu_count()} cores.")


if __name__ == "__main__":
    main()
