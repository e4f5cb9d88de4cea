"""SIGKILL at chosen points of a shard write and of a checkpoint publish, on local disk and on
S3 (moto server): the previous version stays readable (or the artifact is visibly absent),
other shards are untouched, and a rerun publishes what a clean write would have."""

import numpy as np
import pytest
import torch

from gn_models.data.noise_sequence_store import IncompleteShardError, read_shard, write_shard
from gn_models.golden_noise.film_noise_net import FiLMNoiseNet
from gn_models.utils import fsio, versions
from gn_models.utils.digest import digest_arrays, digest_tree
from helpers.fault_writer import tiny_model
from helpers.object_store import fresh_root
from helpers.processes import kill_writer_at, run_writer
from helpers.sequences import make_sequences

KILL_POINTS = [
    ("local", "arrays"),
    ("local", "pointer"),
    ("local", "pointer-replace"),
    ("local", "prune"),
    ("s3", "arrays"),
    ("s3", "pointer"),
    ("s3", "prune"),
]


@pytest.fixture
def root_of(request, tmp_path):
    def make(kind: str) -> str:
        if kind == "s3":
            request.getfixturevalue("s3_endpoint")
        return fresh_root(kind, tmp_path)

    return make


def shard_digest(store: str, shard: str) -> str:
    return digest_arrays(read_shard(store, shard))


def expected_digest(fill: float) -> str:
    return digest_arrays(make_sequences(n=40, fill=fill).arrays())


def only_published_versions_remain(url: str) -> bool:
    pointer = versions.read_pointer(url)
    return set(versions.version_folders(url)) == {pointer["version"], *pointer["previous"]}


@pytest.mark.parametrize("kind, point", KILL_POINTS)
def test_killed_shard_write_keeps_previous_version(kind, point, root_of, tmp_path, monkeypatch):
    store = fsio.join(root_of(kind), "noise_sequences.zarr")
    write_shard(store, "shard-00", make_sequences(n=40, fill=1.0), chunk_size=8)
    write_shard(store, "shard-01", make_sequences(n=40, fill=5.0), chunk_size=8)
    kill_writer_at(point, tmp_path / "ready", "shard", store, "--fill", "2")
    published = point == "prune"  # killed after the pointer was written
    assert shard_digest(store, "shard-00") == expected_digest(2.0 if published else 1.0)
    assert shard_digest(store, "shard-01") == expected_digest(5.0)
    monkeypatch.setattr(versions, "ABANDONED_AFTER", versions.timedelta(0))
    write_shard(store, "shard-00", make_sequences(n=40, fill=2.0), chunk_size=8)  # the rerun
    assert shard_digest(store, "shard-00") == expected_digest(2.0)
    assert only_published_versions_remain(fsio.join(store, "shard-00"))  # killed half pruned


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_killed_first_write_leaves_the_shard_visibly_absent(kind, root_of, tmp_path):
    store = fsio.join(root_of(kind), "noise_sequences.zarr")
    kill_writer_at("pointer", tmp_path / "ready", "shard", store, "--shard", "shard-02")
    with pytest.raises(IncompleteShardError, match="shard-02"):
        read_shard(store, "shard-02")
    run_writer("shard", store, "--shard", "shard-02", "--fill", "3")
    assert shard_digest(store, "shard-02") == expected_digest(3.0)


CHECKPOINT_POINTS = [
    ("local", "weights"),
    ("local", "pointer"),
    ("local", "pointer-replace"),
    ("local", "prune"),
    ("s3", "weights"),
    ("s3", "pointer"),
]


@pytest.mark.parametrize("kind, point", CHECKPOINT_POINTS)
def test_killed_checkpoint_publish_keeps_previous_checkpoint(kind, point, root_of, tmp_path):
    url = fsio.join(root_of(kind), "checkpoints", "film_noise_net")
    run_writer("checkpoint", url, "--fill", "1")
    kill_writer_at(point, tmp_path / "ready", "checkpoint", url, "--fill", "2")
    published = point == "prune"
    loaded = FiLMNoiseNet.load(versions.localize(url))
    expected = tiny_model(2 if published else 1).state_dict()
    for name, value in loaded.state_dict().items():
        torch.testing.assert_close(value, expected[name])
    run_writer("checkpoint", url, "--fill", "2")  # the rerun: same bytes as a clean save
    clean = tmp_path / "clean"
    tiny_model(2).save(clean)
    assert digest_tree(versions.localize(url)) == digest_tree(clean)


def test_shard_digest_is_the_data_version_after_a_round_trip(tmp_path):
    data = make_sequences(n=40, fill=np.float32(0.5))
    write_shard(tmp_path / "s.zarr", "shard-00", data, chunk_size=8)
    assert shard_digest(str(tmp_path / "s.zarr"), "shard-00") == digest_arrays(data.arrays())
