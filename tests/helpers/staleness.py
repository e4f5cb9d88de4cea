"""What the UI shows as stale: Dagster's stale-status resolver over a Definitions' graph.

The resolver is Dagster's internal API (the webserver's GraphQL layer calls it to draw the
"Unsynced" badges and their causes); tests use it to assert exactly what became stale.
"""

from dagster import DagsterInstance, Definitions
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._time import get_current_datetime

from gn_dagster.partitions import registered_shards


def stale_assets(defs: Definitions, instance: DagsterInstance) -> dict[str, list[str]]:
    """``asset`` or ``asset[shard]`` -> stale causes, for everything the UI marks stale."""
    graph = defs.resolve_asset_graph()
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=graph,
    )
    resolver = CachingStaleStatusResolver(instance, graph, view)
    stale = {}
    for key in graph.materializable_asset_keys:
        partitioned = graph.get(key).partitions_def is not None
        for partition in registered_shards(instance) if partitioned else [None]:
            if resolver.get_status(key, partition) == StaleStatus.STALE:
                name = key.to_user_string() + (f"[{partition}]" if partition else "")
                causes = resolver.get_stale_causes(key, partition)
                stale[name] = sorted(f"{c.reason}: {c.dependency}" for c in causes)
    return stale
