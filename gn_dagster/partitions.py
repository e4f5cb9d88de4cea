"""Prompt shards as dynamic partitions: the shards come from the prompt source at run time.

A file source has ``GN_NUM_SHARDS`` hash shards (default 8); a directory source has one shard
per prompt file, so adding a file adds a shard (see ``gn_models.prompt_shards``). The prompt
sensor and ``make demo`` register the source's shards with the instance. A shard is never
removed automatically: when its prompts or its file are deleted it is rematerialized empty,
so everything trained on it becomes stale.

Keep the shard count at most 99: Dagster skips partition-level staleness for a dependency
with 100 or more upstream partitions.
"""

import os

from dagster import DagsterInstance, DynamicPartitionsDefinition

from gn_models.data.shards import hash_shard_keys

NUM_SHARDS = int(os.environ.get("GN_NUM_SHARDS", "8"))  # hash shards of a file source
try:
    hash_shard_keys(NUM_SHARDS)  # fail at load time, not in the first run
except ValueError as error:
    raise ValueError(f"GN_NUM_SHARDS={NUM_SHARDS}: {error}") from None

prompt_shards = DynamicPartitionsDefinition(name="prompt_shards")


def registered_shards(instance: DagsterInstance) -> list[str]:
    """The shard keys registered with ``instance``, in registration order."""
    return list(instance.get_dynamic_partitions(prompt_shards.name))


def register_shards(instance: DagsterInstance, keys: list[str]) -> list[str]:
    """Register the shard ``keys`` that ``instance`` does not know yet; return those."""
    known = set(registered_shards(instance))
    new = [key for key in keys if key not in known]
    if new:
        instance.add_dynamic_partitions(prompt_shards.name, new)
    return new
