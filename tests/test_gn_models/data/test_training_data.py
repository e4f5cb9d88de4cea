import numpy as np

from gn_models.data.noise_sequence_store import write_shard
from gn_models.data.training_data import load_training_sequences
from helpers.sequences import make_sequences

ATTRS = {"sampling": {"margin": 0.0}, "reward": "toy 1"}


def test_shards_are_read_in_name_order_whatever_the_registration_order(tmp_path):
    store = tmp_path / "s.zarr"
    for i, shard in enumerate(["shard-02", "shard-00", "shard-01"]):
        write_shard(store, shard, make_sequences(n=4, fill=float(i)), attrs=ATTRS)
    for one_step in (True, False):
        loaded = [
            load_training_sequences(store, keys, one_step)
            for keys in (["shard-00", "shard-01", "shard-02"], ["shard-02", "shard-00", "shard-01"])
        ]
        for name in ("noise", "prompt"):
            np.testing.assert_array_equal(loaded[0][name], loaded[1][name])
        assert len(loaded[0]["noise"]) > 0
