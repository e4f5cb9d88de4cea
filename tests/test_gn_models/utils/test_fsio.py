"""fsspec storage: staged writes, local copies and the Zarr store on a non-local filesystem."""

import uuid

import fsspec
import numpy as np
import pandas as pd
import pytest

from gn_models.data.noise_sequence_store import IncompleteShardError, read_shard, write_shard
from gn_models.utils import fsio
from helpers.sequences import make_sequences


@pytest.fixture
def root():
    url = f"memory://gn-test-{uuid.uuid4().hex[:8]}"
    yield url
    fsio.remove(url)


def test_staged_folder_is_published_whole_and_replaces_the_old_one(root):
    url = fsio.join(root, "checkpoints", "m")
    for version in ("one", "two"):
        with fsio.staged_write(url) as tmp:
            tmp.mkdir()
            (tmp / "a.txt").write_text(version)
            (tmp / "sub").mkdir()
            (tmp / "sub" / "b.txt").write_text(version)
    fs = fsspec.filesystem("memory")
    listing = sorted(p.rpartition("/")[2] for p in fs.find(fsio.url_to_fs(root)[1]))
    assert listing == ["a.txt", "b.txt"]  # no partial or retired leftovers
    local = fsio.localize(url)
    assert (local / "a.txt").read_text() == "two" and (local / "sub" / "b.txt").read_text() == "two"


def test_failed_write_keeps_the_previous_file(root):
    url = fsio.join(root, "scores.parquet")
    with fsio.staged_write(url) as tmp:
        pd.DataFrame({"x": [1]}).to_parquet(tmp)
    with pytest.raises(RuntimeError), fsio.staged_write(url) as tmp:
        pd.DataFrame({"x": [2]}).to_parquet(tmp)
        raise RuntimeError("crash mid-write")
    assert pd.read_parquet(url)["x"].tolist() == [1]
    assert [p for p in fsspec.filesystem("memory").find(fsio.url_to_fs(root)[1])] == [
        fsio.url_to_fs(url)[1]
    ]


def test_local_paths_stay_local(tmp_path):
    assert fsio.is_local(tmp_path) and not fsio.is_local("memory://x")
    assert fsio.localize(tmp_path / "a") == tmp_path / "a"
    with pytest.raises(FileNotFoundError, match="materialize"):
        fsio.localize("memory://does-not-exist/x")


def test_zarr_shards_on_memory_filesystem(root):
    store = fsio.join(root, "noise_sequences.zarr")
    write_shard(store, "shard-00", make_sequences(fill=1.0), chunk_size=2)
    data = make_sequences(fill=2.0)
    write_shard(store, "shard-00", data, chunk_size=2)  # replaces the first version
    arrays = read_shard(store, "shard-00", ["noise", "prompt"])
    assert np.array_equal(arrays["noise"], data.noise)
    assert list(arrays["prompt"]) == list(data.prompt)
    with pytest.raises(IncompleteShardError):
        read_shard(store, "shard-01")
