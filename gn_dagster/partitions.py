"""Prompt shards as dynamic partitions: the shards come from the prompt source at run time.

A file source has ``GN_NUM_SHARDS`` hash shards (default 8); a directory source has one shard
per prompt file, so adding a file adds a shard (see ``gn_models.data.shards``). The prompt
sensor requests new shards through its result (``make demo`` registers them before its first
run). A shard is never removed automatically: when its prompts or its file are deleted it is
rematerialized empty, so everything trained on it becomes stale.

Keep the shard count at most 99: Dagster skips partition-level staleness for a dependency
with 100 or more upstream partitions.
"""

from dagster import DagsterInstance, DynamicPartitionsDefinition

prompt_shards = DynamicPartitionsDefinition(name="prompt_shards")


def registered_shards(instance: DagsterInstance) -> list[str]:
    """The shard keys registered with ``instance``, in registration order."""
    return list(instance.get_dynamic_partitions(prompt_shards.name))


def new_shards(registered: list[str], keys: list[str]) -> list[str]:
    """The shard ``keys`` that are not ``registered`` yet, in the given order."""
    known = set(registered)
    return [key for key in keys if key not in known]
