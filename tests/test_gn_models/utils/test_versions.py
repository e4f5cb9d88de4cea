"""Versioned folder artifacts on local disk, memory and S3 (moto): published by one pointer
write, older versions readable, failures and abandoned writes leave nothing visible."""

import errno

import numpy as np
import pytest

from gn_models.data.noise_sequence_store import IncompleteShardError, read_shard, write_shard
from gn_models.utils import fsio, versions
from gn_models.utils.digest import digest_arrays
from helpers.sequences import make_sequences


def _write(url: str, text: str) -> str:
    with versions.staged_folder(url) as stage:
        (stage.path / "a.txt").write_text(text)
        (stage.path / "sub").mkdir()
        (stage.path / "sub" / "b.txt").write_text(text)
    return stage.version


def test_folder_is_published_whole_and_older_versions_stay_readable(store_root):
    url = fsio.join(store_root, "checkpoints", "m")
    ids = [_write(url, text) for text in ("one", "two", "three", "four")]
    local = versions.localize(url)
    assert (local / "a.txt").read_text() == "four" and (local / "sub" / "b.txt").read_text()
    assert (versions.localize(url, ids[1]) / "a.txt").read_text() == "two"
    # the newest KEEP_VERSIONS stay; the first was deleted when the fourth was published
    assert versions.version_folders(url) == sorted(ids[-versions.KEEP_VERSIONS :])
    assert versions.resolve(url, ids[0]) is None
    with pytest.raises(FileNotFoundError, match=f"no version {ids[0]}"):
        versions.localize(url, ids[0])


@pytest.mark.parametrize(
    "fault", [RuntimeError("crash mid-write"), OSError(errno.ENOSPC, "No space left on device")]
)
def test_failed_write_publishes_nothing_and_leaves_nothing(store_root, fault):
    url = fsio.join(store_root, "checkpoints", "m")
    first = _write(url, "one")
    with pytest.raises(type(fault)), versions.staged_folder(url) as stage:
        (stage.path / "a.txt").write_text("half")
        raise fault
    assert (versions.localize(url) / "a.txt").read_text() == "one"
    assert versions.version_folders(url) == [first]


def test_never_published_artifact_says_what_to_materialize(store_root):
    url = fsio.join(store_root, "checkpoints", "never")
    assert versions.resolve(url) is None
    with pytest.raises(FileNotFoundError, match="materialize the asset"):
        versions.localize(url)
    with pytest.raises(FileNotFoundError, match="materialize the asset"):
        versions.current(url, "index.parquet")


def test_abandoned_unpublished_versions_are_pruned(store_root, monkeypatch):
    url = fsio.join(store_root, "m")
    _write(url, "one")
    for name in ("20200101T000000000000-deadbeef", "not-ours"):  # a killed writer's, not ours
        fs, path = fsio.url_to_fs(versions.version_url(url, name))
        fs.makedirs(path, exist_ok=True)
        fs.pipe_file(f"{path}/a.txt", b"half")
    fresh = _write(url, "two")  # a recent unpublished folder could be a writer at work: kept
    assert "20200101T000000000000-deadbeef" not in versions.version_folders(url)
    assert "not-ours" in versions.version_folders(url) and fresh in versions.version_folders(url)


def test_folder_written_before_versioning_is_read_in_place(tmp_path):
    legacy = tmp_path / "checkpoints" / "m"
    legacy.mkdir(parents=True)
    (legacy / "a.txt").write_text("old layout")
    assert versions.localize(legacy) == legacy
    _write(str(legacy), "new")
    assert (versions.localize(legacy) / "a.txt").read_text() == "new"


def test_zarr_shard_versions_on_every_filesystem(store_root):
    store = fsio.join(store_root, "noise_sequences.zarr")
    first = write_shard(store, "shard-00", make_sequences(fill=1.0), chunk_size=2)
    data = make_sequences(fill=2.0)
    write_shard(store, "shard-00", data, chunk_size=2)
    arrays = read_shard(store, "shard-00")
    assert digest_arrays(arrays) == digest_arrays(data.arrays())  # the data version
    old = read_shard(store, "shard-00", ["noise"], version=first)["noise"]
    assert np.allclose(old, make_sequences(fill=1.0).noise)
    with pytest.raises(IncompleteShardError, match="Materialize `noise_sequences`"):
        read_shard(store, "shard-01")
