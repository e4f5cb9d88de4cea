import numpy as np
import pytest
import zarr

from gn_models.data.noise_sequence_store import (
    IncompleteShardError,
    open_shard,
    read_shard,
    write_shard,
)
from helpers.sequences import make_sequences


def test_round_trip_dtypes_and_chunks(tmp_path):
    pairs = make_sequences()
    write_shard(tmp_path / "s.zarr", "shard-00", pairs, chunk_size=2, attrs={"k": 1})
    data = read_shard(tmp_path / "s.zarr", "shard-00")
    for name, values in pairs.arrays().items():
        assert data[name].dtype == values.dtype, name
        np.testing.assert_array_equal(data[name], values)  # NaN rewards compare equal
    group = open_shard(tmp_path / "s.zarr", "shard-00")
    assert group["noise"].chunks == (2, 4, 1, 6, 10)
    assert group.attrs["count"] == 5 and group.attrs["k"] == 1
    assert zarr.open_group(tmp_path / "s.zarr", mode="r").metadata.zarr_format == 3


def test_interrupted_write_keeps_previous_shard(tmp_path, monkeypatch):
    store = tmp_path / "s.zarr"
    write_shard(store, "shard-01", make_sequences(fill=0.0))
    from gn_models.data import noise_sequence_store as noise_sequence_store

    def crash(group, name, values, chunk_size):
        if name == "image_golden":
            raise KeyboardInterrupt("killed mid-write")
        original(group, name, values, chunk_size)

    original = noise_sequence_store._write_array
    monkeypatch.setattr(noise_sequence_store, "_write_array", crash)
    with pytest.raises(KeyboardInterrupt):
        write_shard(store, "shard-01", make_sequences(fill=100.0))
    monkeypatch.undo()
    # the old complete shard is intact; the partial one is not readable under the shard name
    assert read_shard(store, "shard-01", ["noise"])["noise"].mean() < 10
    with pytest.raises(IncompleteShardError, match="Materialize `noise_sequences`"):
        read_shard(store, "shard-02")


def test_partial_group_is_never_complete(tmp_path):
    store = tmp_path / "s.zarr"
    zarr.open_group(store / "shard-03", mode="w").attrs["count"] = 3  # no `complete` flag
    with pytest.raises(IncompleteShardError):
        open_shard(store, "shard-03")


def test_empty_shard(tmp_path):
    write_shard(tmp_path / "s.zarr", "shard-04", None)
    assert open_shard(tmp_path / "s.zarr", "shard-04").attrs["count"] == 0
    assert read_shard(tmp_path / "s.zarr", "shard-04") == {}
