"""Prompt shards: a static partition per shard, so one edited prompt touches one shard.

Keep the shard count below 100: Dagster skips partition-level staleness for a dependency
with 100 or more upstream partitions.
"""

import os

from dagster import StaticPartitionsDefinition

NUM_SHARDS = int(os.environ.get("GN_NUM_SHARDS", "8"))
if not 1 <= NUM_SHARDS < 100:
    raise ValueError(f"GN_NUM_SHARDS={NUM_SHARDS}: use 1..99 shards (Dagster's staleness limit).")

SHARD_KEYS = [f"shard-{i:02d}" for i in range(NUM_SHARDS)]
prompt_shards = StaticPartitionsDefinition(SHARD_KEYS)


def shard_index(key: str) -> int:
    """'shard-03' -> 3."""
    return SHARD_KEYS.index(key)
