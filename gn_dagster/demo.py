"""`make demo`: materialize the whole graph into the persistent DAGSTER_HOME, print the summary.

Registers the prompt source's shards, then runs the jobs in order (observe_prompt_sources;
prepare_models; collect_noise_sequences for every shard; train_and_evaluate), each as a run
recorded in the instance, so `make ui` shows them and finds nothing stale.
"""

from __future__ import annotations

import sys
import time

from dagster import AssetKey, DagsterInstance, Definitions, ExecuteInProcessResult, RunConfig

from gn_dagster.definitions import build_definitions
from gn_dagster.partitions import new_shards, prompt_shards, registered_shards
from gn_models.evaluation.comparison import comparison_markdown, extra_time, is_chain_row
from gn_models.utils.tables import read_parquet
from gn_models.utils.versions import current


def materialize_all(
    defs: Definitions, instance: DagsterInstance, run_config: RunConfig | None = None, log=print
) -> list[ExecuteInProcessResult]:
    """Register the prompt source's shards, run every job of the graph in dependency order;
    return the runs; raise if one fails."""
    register_source_shards(defs, instance)
    runs = [run_job(defs, instance, "observe_prompt_sources", run_config=run_config, log=log)]
    runs.append(run_job(defs, instance, "prepare_models", run_config=run_config, log=log))
    for shard in registered_shards(instance):
        runs.append(run_job(defs, instance, "collect_noise_sequences", shard, run_config, log))
    runs.append(run_job(defs, instance, "train_and_evaluate", run_config=run_config, log=log))
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
) -> ExecuteInProcessResult:
    """Execute one job (one partition; the assets ``asset_selection``, default all) in
    process; log its time; raise if it fails."""
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
    start = time.perf_counter()
    materialize_all(defs, instance)
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
