import numpy as np
import pytest

from gn_models.data.noise_sequence_store import write_shard
from gn_models.data.training_data import (
    OneStepTargets,
    load_training_sequences,
    one_step_pairs,
)
from helpers.sequences import make_sequences

ATTRS = {"sampling": {"margin": 0.0}, "reward": "toy 1"}


def test_shards_are_read_in_name_order_whatever_the_registration_order(tmp_path):
    store = tmp_path / "s.zarr"
    for i, shard in enumerate(["shard-02", "shard-00", "shard-01"]):
        write_shard(store, shard, make_sequences(n=4, fill=float(i)), attrs=ATTRS)
    for one_step in (OneStepTargets(), None):
        loaded = [
            load_training_sequences(store, keys, one_step)
            for keys in (["shard-00", "shard-01", "shard-02"], ["shard-02", "shard-00", "shard-01"])
        ]
        for name in ("noise", "prompt"):
            np.testing.assert_array_equal(loaded[0][name], loaded[1][name])
        assert len(loaded[0]["noise"]) > 0


def _chains():
    noise = np.arange(4 * 4, dtype=np.float32).reshape(4, 4, 1, 1, 1)  # state k of row i: 4i + k
    reward = np.array(
        [
            [0.5, 0.6, np.nan, 0.9],  # best: the last state
            [0.5, 0.7, np.nan, 0.4],  # best: x'_1
            [0.5, 0.2, np.nan, 0.3],  # nothing beats x_T: the target is x_T
            [0.5, 0.5, np.nan, 0.5],  # a tie does not beat x_T
        ],
        dtype=np.float32,
    )
    return noise, reward


def test_best_of_chain_targets_the_best_rewarded_state_or_x_T():
    noise, reward = _chains()
    pairs, rows = one_step_pairs(noise, reward, 0.0, OneStepTargets(best_of_chain=True))
    np.testing.assert_array_equal(rows, [0, 1, 2, 3])  # every sequence gives a pair
    np.testing.assert_array_equal(pairs[:, 0].ravel(), [0, 4, 8, 12])
    np.testing.assert_array_equal(pairs[:, 1].ravel(), [3, 5, 8, 12])
    pairs, _ = one_step_pairs(noise, reward, 0.25, OneStepTargets(best_of_chain=True))
    np.testing.assert_array_equal(pairs[:, 1].ravel(), [3, 4, 8, 12])  # +0.2 is under m


def test_a_target_state_keeps_the_pairs_the_filter_prefers_and_names_unrewarded_states():
    noise, reward = _chains()
    pairs, rows = one_step_pairs(noise, reward, 0.0, OneStepTargets(target_state=3))
    np.testing.assert_array_equal(rows, [0])
    np.testing.assert_array_equal(pairs.ravel(), [0, 3])
    pairs, rows = one_step_pairs(noise, reward, 0.0, OneStepTargets())  # x'_1, the paper
    np.testing.assert_array_equal(rows, [0, 1])
    np.testing.assert_array_equal(pairs[:, 1].ravel(), [1, 5])
    with pytest.raises(ValueError, match=r"target_state=2.*rewarded at \[0, 1, 3\]"):
        one_step_pairs(noise, reward, 0.0, OneStepTargets(target_state=2))
    with pytest.raises(ValueError, match="target_state=4"):
        one_step_pairs(noise, reward, 0.0, OneStepTargets(target_state=4))


def test_loaded_pairs_carry_prompts_and_labels(tmp_path):
    store = tmp_path / "s.zarr"
    data = make_sequences(n=6)
    write_shard(store, "shard-00", data, attrs=ATTRS)
    loaded = load_training_sequences(store, ["shard-00"], OneStepTargets())
    keep = data.reward[:, 1] > data.reward[:, 0]
    np.testing.assert_array_equal(loaded["label"], data.label[keep])
    np.testing.assert_array_equal(loaded["prompt"], data.prompt[keep].astype(str))
    np.testing.assert_array_equal(loaded["noise"], data.noise[keep][:, :2])


def test_transitions_are_every_step_of_the_kept_chains():
    noise, reward = _chains()  # kept by reward(x'_3) > reward(x_T): row 0 only
    pairs, rows = one_step_pairs(noise, reward, 0.0, OneStepTargets(transitions=True))
    np.testing.assert_array_equal(rows, [0, 0, 0])
    np.testing.assert_array_equal(pairs.reshape(3, 2), [[0, 1], [1, 2], [2, 3]])
    reward[1, 3] = 0.8  # row 1 kept too
    pairs, rows = one_step_pairs(noise, reward, 0.0, OneStepTargets(transitions=True))
    np.testing.assert_array_equal(rows, [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(pairs[3:].reshape(3, 2), [[4, 5], [5, 6], [6, 7]])
