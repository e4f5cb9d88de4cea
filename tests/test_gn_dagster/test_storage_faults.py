"""Faults in a materialized graph: a corrupted chunk file is found by the shard's check and
repaired by rematerializing; NaN in the noise stops the run before anything is written."""

from pathlib import Path

import numpy as np
import pytest
from dagster import RunConfig

from gn_dagster.defs.noise_sequences import assets as noise_assets
from gn_dagster.demo import run_job
from gn_models.data.noise_sequence_store import open_shard, shard_url
from gn_models.utils import versions
from helpers.graph import TINY


def checks_of(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def non_empty_shard(g) -> str:
    store = g.storage.noise_sequence_store
    keys = sorted(g.instance.get_dynamic_partitions("prompt_shards"))
    return next(k for k in keys if open_shard(store, k).attrs["count"] > 0)


def verify(g, shard: str):
    job = g.defs.resolve_job_def("verify_noise_sequences")
    tags = {"dagster/partition": shard}  # a checks-only job takes its partition from the tag
    return job.execute_in_process(instance=g.instance, tags=tags, raise_on_error=False)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_chunk_fails_the_check_and_rematerializing_repairs_it(graph_copy, damage):
    g = graph_copy
    shard = non_empty_shard(g)
    assert all(checks_of(verify(g, shard)).values())  # the stored shard matches
    folder = Path(versions.resolve(shard_url(g.storage.noise_sequence_store, shard)))
    chunk = folder / "noise" / "c" / "0" / "0" / "0" / "0" / "0"
    data = chunk.read_bytes()
    if damage == "truncate":
        chunk.write_bytes(data[: len(data) // 2])
    else:  # one flipped byte in the middle of the compressed data
        middle = len(data) // 2
        chunk.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    result = verify(g, shard)
    checks = checks_of(result)
    assert checks["shard_matches_data_version"] is False
    description = next(
        e.description
        for e in result.get_asset_check_evaluations()
        if e.check_name == "shard_matches_data_version"
    )
    assert shard in description and str(folder) in description
    assert "Rematerialize" in description
    run_job(g.defs, g.instance, "collect_noise_sequences", shard, TINY, log=lambda _: None)
    assert all(checks_of(verify(g, shard)).values())


def test_nan_in_the_noise_stops_the_run_before_writing(graph_copy, monkeypatch):
    g = graph_copy
    shard = non_empty_shard(g)
    url = shard_url(g.storage.noise_sequence_store, shard)
    before = versions.read_pointer(url)
    collect = noise_assets.collect_noise_sequences

    def diverging(*args, **kwargs):
        data = collect(*args, **kwargs)
        data.noise[3, -1, 0, 0, 0] = np.nan
        return data

    monkeypatch.setattr(noise_assets, "collect_noise_sequences", diverging)
    job = g.defs.resolve_job_def("collect_noise_sequences")
    result = job.execute_in_process(
        run_config=RunConfig(ops={"noise_sequences": TINY.ops["noise_sequences"]}),
        instance=g.instance,
        partition_key=shard,
        raise_on_error=False,
    )
    assert not result.success
    error = str(
        next(
            e for e in result.all_events if e.event_type_value == "STEP_FAILURE"
        ).event_specific_data.error
    )
    assert f"noise_sequences[{shard}]: noise holds NaN at sample 3" in error
    assert "prompt" in error and "Stopped before writing anything" in error
    assert versions.read_pointer(url) == before  # nothing published
    assert len(versions.version_folders(url)) == len([before["version"], *before["previous"]])
