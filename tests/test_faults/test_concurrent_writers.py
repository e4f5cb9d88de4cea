"""Shards written at the same time by separate processes into one store (the multiprocess
executor, or two runs), on local disk and on S3 (moto server): all complete, none damaged."""

import time

import pytest

from gn_models.data.noise_sequence_store import read_shard
from gn_models.utils import fsio, versions
from gn_models.utils.digest import digest_arrays
from helpers.object_store import fresh_root
from helpers.processes import start_writer
from helpers.sequences import make_sequences


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_concurrent_writers_of_one_store(kind, request, tmp_path):
    if kind == "s3":
        request.getfixturevalue("s3_endpoint")
    store = fsio.join(fresh_root(kind, tmp_path), "noise_sequences.zarr")
    go = tmp_path / "go"

    def writer(shard: str, fill: str):
        ready = ("--ready", str(tmp_path / f"ready-{shard}-{fill}"), "--go", str(go))
        return start_writer(
            "shard", store, "--shard", shard, "--fill", fill, "--repeat", "4", *ready
        )

    jobs = {  # two shards, and a second writer of shard-00 racing the first
        ("shard-00", 1.0): writer("shard-00", "1"),
        ("shard-01", 2.0): writer("shard-01", "2"),
        ("shard-00", 3.0): writer("shard-00", "3"),
    }
    while len(list(tmp_path.glob("ready-*"))) < len(jobs):  # all imported and waiting
        assert all(p.poll() is None for p in jobs.values()), "a writer exited early"
        time.sleep(0.05)
    go.touch()  # they write at the same time
    for process in jobs.values():
        out, _ = process.communicate(timeout=300)
        assert process.returncode == 0, out
    expected = {fill: digest_arrays(make_sequences(n=40, fill=fill).arrays()) for _, fill in jobs}
    assert digest_arrays(read_shard(store, "shard-01")) == expected[2.0]
    # the last pointer wins: shard-00 is one writer's complete content, never a mix
    assert digest_arrays(read_shard(store, "shard-00")) in {expected[1.0], expected[3.0]}
    for shard in ("shard-00", "shard-01"):  # every version left is some writer's whole content
        for version in versions.version_folders(fsio.join(store, shard)):
            content = digest_arrays(read_shard(store, shard, version=version))
            assert content in expected.values()
