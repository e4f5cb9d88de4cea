"""What the instance recorded about a partition's latest materialization."""

from dataclasses import dataclass

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

DATA_VERSION_TAG = "dagster/data_version"  # the tag Dagster reads data versions from


@dataclass(frozen=True)
class Materialized:
    """Data version and event storage id of a partition's latest materialization (both None:
    never materialized)."""

    version: str | None
    storage_id: int | None


def latest_materialization(
    instance: DagsterInstance, asset: str, partition: str | None = None
) -> Materialized:
    """The latest materialization of ``asset[partition]`` (of any partition, or of an
    unpartitioned asset, when ``partition`` is None) recorded in ``instance``."""
    partitions = [partition] if partition is not None else None
    records = instance.fetch_materializations(
        AssetRecordsFilter(AssetKey(asset), asset_partitions=partitions), limit=1
    ).records
    if not records:
        return Materialized(None, None)
    tags = records[0].asset_materialization.tags or {}
    return Materialized(tags.get(DATA_VERSION_TAG), records[0].storage_id)
