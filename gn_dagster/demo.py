"""`make demo`: materialize the whole graph into the persistent DAGSTER_HOME, print the summary.

Registers the prompt source's shards, then runs the jobs in order (observe_prompt_sources;
prepare_models; collect_noise_sequences for every shard; train_and_evaluate), each as a run
recorded in the instance, so `make ui` shows them and finds nothing stale.

With an executor other than in_process (``GN_EXECUTOR``, e.g. ``celery`` in `make
scale-demo`), each run goes through that executor in a process of its own
(``gn_dagster.launch``), and the shards' collection runs are launched together, so several
workers share them.
"""

from __future__ import annotations

import sys
import time

from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRun,
    Definitions,
    ExecuteInProcessResult,
    RunConfig,
    in_process_executor,
)

from gn_dagster.definitions import build_definitions
from gn_dagster.launch import CodeLocation, run_in_processes
from gn_dagster.partitions import new_shards, prompt_shards, registered_shards
from gn_models.evaluation.comparison import comparison_markdown, extra_time, is_chain_row
from gn_models.utils.tables import read_parquet
from gn_models.utils.versions import current


def materialize_all(
    defs: Definitions,
    instance: DagsterInstance,
    run_config: RunConfig | None = None,
    log=print,
    code: CodeLocation | None = None,
) -> list[ExecuteInProcessResult | DagsterRun]:
    """Register the prompt source's shards, run every job of the graph in dependency order;
    return the runs; raise if one fails. With ``code`` (where run processes load ``defs``
    from), runs go through the definitions' executor, each in its own process, and the
    shards' runs at once (``run_partitions``)."""
    register_source_shards(defs, instance)
    runs = [run_job(defs, instance, "observe_prompt_sources", None, run_config, log, code=code)]
    runs.append(run_job(defs, instance, "prepare_models", None, run_config, log, code=code))
    shards = registered_shards(instance)
    if code is None:
        for shard in shards:
            runs.append(run_job(defs, instance, "collect_noise_sequences", shard, run_config, log))
    else:
        collect = "collect_noise_sequences"
        runs += run_partitions(code, defs, instance, collect, shards, run_config, log)
    runs.append(run_job(defs, instance, "train_and_evaluate", None, run_config, log, code=code))
    return runs


def run_partitions(
    code: CodeLocation,
    defs: Definitions,
    instance: DagsterInstance,
    job_name: str,
    partitions: list[str | None],
    run_config: RunConfig | None = None,
    log=print,
) -> list[DagsterRun]:
    """Run ``job_name`` for every partition at once, each run in its own process through the
    definitions' executor (``gn_dagster.launch``); log the time; return the runs.

    Raises:
        RunFailedError: after all have ended, naming every run that failed.
    """
    start = time.perf_counter()
    config = _run_config_of(defs.resolve_job_def(job_name), run_config).to_config_dict()
    runs = run_in_processes(code, instance, job_name, partitions, config)
    for partition, run in zip(partitions, runs, strict=True):
        label = f"{job_name}[{partition}]" if partition else job_name
        log(f"{label}: ok (run {run.run_id[:8]})")
    log(f"{job_name}: {len(runs)} run(s) in {time.perf_counter() - start:.0f} s")
    return runs


def register_source_shards(defs: Definitions, instance: DagsterInstance) -> list[str]:
    """Register the shards of the ``prompt_source`` resource that ``instance`` does not know
    yet (what the prompt sensor requests on its first tick); return them."""
    source = defs.resources["prompt_source"].shards()
    added = new_shards(registered_shards(instance), list(source))
    if added:
        instance.add_dynamic_partitions(prompt_shards.name, added)
    return added


def run_job(
    defs: Definitions,
    instance: DagsterInstance,
    job_name: str,
    partition: str | None = None,
    run_config: RunConfig | None = None,
    log=print,
    asset_selection: list[AssetKey] | None = None,
    code: CodeLocation | None = None,
) -> ExecuteInProcessResult | DagsterRun:
    """Execute one job (one partition; the assets ``asset_selection``, default all) in
    process, or with ``code`` in its own process through the definitions' executor
    (``run_partitions``, all assets); log its time; raise if it fails."""
    if code is not None:
        [run] = run_partitions(code, defs, instance, job_name, [partition], run_config, log)
        return run
    start = time.perf_counter()
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        run_config=_run_config_of(job, run_config),
        instance=instance,
        partition_key=partition,
        raise_on_error=True,
        asset_selection=asset_selection,
    )
    label = f"{job_name}[{partition}]" if partition else job_name
    log(f"{label}: ok in {time.perf_counter() - start:.0f} s (run {result.run_id[:8]})")
    return result


def _run_config_of(job, run_config: RunConfig | None, log_level: str = "INFO") -> RunConfig:
    """The part of ``run_config`` that configures this job (its ops and the resources), with
    console logs at ``log_level`` (Dagster's DEBUG event stream is too chatty for a terminal)."""
    names = set(job.graph.node_dict)
    ops = {k: v for k, v in (run_config.ops if run_config else {}).items() if k in names}
    resources = dict(run_config.resources or {}) if run_config else {}
    return RunConfig(
        ops=ops, resources=resources, loggers={"console": {"config": {"log_level": log_level}}}
    )


def main() -> int:
    defs = build_definitions()
    instance = DagsterInstance.get()
    code = None
    if defs.executor is not in_process_executor:
        code = CodeLocation()
        print(f"Runs go through the {defs.executor.name} executor.")
    start = time.perf_counter()
    materialize_all(defs, instance, code=code)
    storage = defs.resources["storage"]
    print(f"\nAll assets materialized in {time.perf_counter() - start:.0f} s.")
    frame = read_parquet(storage.comparison_path)
    times = extra_time(read_parquet(current(storage.eval_images_dir, "timings.parquet")))
    chain = frame["method"].map(is_chain_row)
    print(f"Comparison ({storage.comparison_path}); judge first, then filter:\n")
    print(comparison_markdown(frame[~chain], times))
    if chain.any():
        print("Chain oracles: re-denoise applied k times at inference (x{k}), without and with")
        print("renormalization to ||x_T|| (_renorm):\n")
        print(comparison_markdown(frame[chain], times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
