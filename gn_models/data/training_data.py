"""Training data of the golden-noise models: the kept sequences of the stored shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gn_models.data.noise_sequence_store import open_shard, read_shard
from gn_models.data.noise_sequences import kept_at


def load_training_sequences(
    store: str | Path, shard_keys: list[str], one_step: bool
) -> dict[str, np.ndarray]:
    """Kept sequences of the shards ``shard_keys``: one-step models get [x_T, x'_1] kept by
    reward(x'_1) > reward(x_T) + m, sequence models the whole chain kept by ``kept``.

    Shards are read in name order, whatever the order of ``shard_keys`` (the order in which
    the instance registered them), so the same shards always give the same training data.

    Returns:
        ``noise`` (N, 2 or n+1, C, H, W) float32 and ``prompt`` (N,) str.

    Raises:
        IncompleteShardError: a shard has not been collected (the message names it).
        ValueError: no samples at all, or shards labelled by different filter rewards.
    """
    attrs = {key: dict(open_shard(store, key).attrs) for key in sorted(shard_keys)}
    shards = [key for key in attrs if attrs[key]["count"] > 0]
    if not shards:
        raise ValueError(f"The noise-sequence store {store} holds no samples: add prompts.")
    rewards = {key: attrs[key].get("reward") for key in shards}
    if len(set(rewards.values())) > 1:  # e.g. HPSv2 v2.0 and v2.1 keep different pairs
        raise ValueError(
            f"The shards of {store} were labelled by different rewards: {rewards}. "
            "Rematerialize `noise_sequences` for the shards whose reward is not the filter "
            "reward's."
        )
    parts = []
    for key in shards:
        data = read_shard(store, key, ["noise", "reward", "prompt", "kept"])
        if one_step:
            keep = kept_at(data["reward"], 1, attrs[key]["sampling"]["margin"])
            parts.append((data["noise"][keep, :2], data["prompt"][keep]))
        else:
            parts.append((data["noise"][data["kept"]], data["prompt"][data["kept"]]))
    return {
        "noise": np.concatenate([p[0] for p in parts]),
        "prompt": np.concatenate([p[1] for p in parts]).astype(str),
    }
