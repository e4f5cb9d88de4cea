"""Training data of the golden-noise models: the kept sequences of the stored shards, and the
one-step targets chosen from them (the paper's x'_1, a later chain state, or the best state of
each chain by the filter reward)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gn_models.data.noise_sequence_store import open_shard, read_shard
from gn_models.data.noise_sequences import kept_at
from gn_models.utils.validation import AT_LEAST_1, require


@dataclass
class OneStepTargets:
    """Which chain state a one-step model learns to reach from x_T.

    ``target_state`` k: pairs (x_T, x'_k), kept when the filter prefers x'_k,
    reward(x'_k) > reward(x_T) + m (k = 1: the paper's pairs). ``best_of_chain``: every
    sequence gives one pair (x_T, the rewarded state with the best filter reward), the target
    being x_T itself when no state beats it by m. ``transitions``: every transition
    (x'_{k-1}, x'_k), k = 1..n, of the sequences the filter keeps (reward(x'_n) > reward(x_T)
    + m): re-denoise is one map applied n times, so n pairs per sequence teach it, and the
    model applied L times stands for re-denoise applied L times.
    """

    target_state: int = 1  # k of the pairs (x_T, x'_k); 1 is NPNet's x'_1
    best_of_chain: bool = False  # target the best rewarded state instead (x_T if none wins)
    transitions: bool = False  # learn the re-denoise map from every transition of kept chains

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): ``target_state`` below 1."""
        require(self, AT_LEAST_1, "target_state")


def one_step_pairs(
    noise: np.ndarray, reward: np.ndarray, margin: float, targets: OneStepTargets
) -> tuple[np.ndarray, np.ndarray]:
    """One-step training pairs of a shard's sequences.

    Args:
        noise: (N, n+1, C, H, W) chains; reward: (N, n+1) filter rewards, NaN where a state
            was not rewarded; margin: m of the keep rule.

    Returns:
        pairs (M, 2, C, H, W) = [input, target] and the (M,) indices of their sequences.

    Raises:
        ValueError: ``target_state`` outside 1..n or a state that was not rewarded (the
            message names the collection setting that rewards it).
    """
    n = noise.shape[1] - 1
    if targets.transitions:
        rows = np.flatnonzero(kept_at(reward, n, margin))
        pairs = np.stack([noise[rows, :-1], noise[rows, 1:]], axis=2)  # (M, n, 2, C, H, W)
        return pairs.reshape(-1, *pairs.shape[2:]), np.repeat(rows, n)
    if targets.best_of_chain:
        gain = np.where(np.isnan(reward), -np.inf, reward) - reward[:, :1]
        best = np.where(gain.max(axis=1) > margin, gain.argmax(axis=1), 0)
        rows = np.arange(len(noise))
        return np.stack([noise[:, 0], noise[rows, best]], axis=1), rows
    k = targets.target_state
    if not 1 <= k <= n or (len(reward) and np.isnan(reward[:, k]).all()):
        raise ValueError(
            f"target_state={k}: the shards hold chains of n={n} states rewarded at "
            f"{np.flatnonzero(~np.isnan(reward).all(axis=0)).tolist()}; choose one of those, "
            "or add it to the collection's reward_states and rematerialize noise_sequences."
        )
    rows = np.flatnonzero(kept_at(reward, k, margin))
    return noise[rows][:, [0, k]], rows


def load_training_sequences(
    store: str | Path, shard_keys: list[str], one_step: OneStepTargets | None
) -> dict[str, np.ndarray]:
    """Training data from the shards ``shard_keys``: one-step models (``one_step`` given) get
    the pairs ``one_step_pairs`` picks, sequence models (None) the whole chains kept by
    ``kept`` = reward(x'_n) > reward(x_T) + m.

    Shards are read in name order, whatever the order of ``shard_keys`` (the order in which
    the instance registered them), so the same shards always give the same training data.

    Returns:
        ``noise`` (N, 2 or n+1, C, H, W) float32, ``prompt`` (N,) str and ``label`` (N,)
        int64 (-1: no label).

    Raises:
        IncompleteShardError: a shard has not been collected (the message names it).
        ValueError: no samples at all, shards labelled by different filter rewards, or a
            target state that was not rewarded.
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
        data = read_shard(store, key, ["noise", "reward", "prompt", "label", "kept"])
        if one_step is None:
            noise, rows = data["noise"], np.flatnonzero(data["kept"])
            noise = noise[rows]
        else:
            margin = attrs[key]["sampling"]["margin"]
            noise, rows = one_step_pairs(data["noise"], data["reward"], margin, one_step)
        parts.append((noise, data["prompt"][rows], data["label"][rows]))
    return {
        "noise": np.concatenate([p[0] for p in parts]),
        "prompt": np.concatenate([p[1] for p in parts]).astype(str),
        "label": np.concatenate([p[2] for p in parts]).astype(np.int64),
    }
