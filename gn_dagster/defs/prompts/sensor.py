"""The prompt sensor: rerun exactly the prompt shards whose content changed.

Every ``GN_SENSOR_INTERVAL`` seconds (default 30) it fingerprints the training prompt source
(names, sizes and modification times of its files); when that changed it reads the source,
hashes every shard (``gn_models.data.shards.shard_version``) and, for each shard whose hash
differs from the cursor, records an observation of ``prompt_source`` and requests one
``collect_noise_sequences`` run for that shard (``prompts`` + ``noise_sequences``). New shards
(a new file in a directory source) are requested as partitions in the same result, before the
runs; a shard whose file was deleted is rerun with no prompts.

The cursor holds the fingerprint and the per-shard hashes. A shard the cursor does not know
(first tick, or after a cursor reset) is compared with the data version of its latest
``prompts`` materialization, so starting the sensor next to an up-to-date instance runs
nothing. Run keys are ``<shard>:<hash>:<id of the shard's latest prompts materialization>``,
so the same content is never requested twice for the same state of a shard, while a revert
to an earlier content (a new state) still runs.
"""

import json
from dataclasses import asdict, dataclass, field

from dagster import (
    AssetKey,
    AssetObservation,
    AssetRecordsFilter,
    DagsterInstance,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    definitions,
    sensor,
)

from gn_dagster.partitions import new_shards, prompt_shards, registered_shards
from gn_dagster.resources.prompt_source import PromptSourceResource
from gn_dagster.settings import current_settings
from gn_models.data.shards import shard_version

COLLECT_ASSETS = [AssetKey("prompts"), AssetKey("noise_sequences")]
DATA_VERSION_TAG = "dagster/data_version"  # the tag Dagster reads data versions from


@dataclass
class PromptCursor:
    """The sensor's state: the source fingerprint and the hash of every shard last seen."""

    signature: str | None = None
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, cursor: str | None) -> "PromptCursor":
        return cls(**json.loads(cursor)) if cursor else cls()

    def dumps(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class ShardState:
    """Data version and event storage id of a shard's latest ``prompts`` materialization."""

    version: str | None
    storage_id: int | None


def materialized_shard(instance: DagsterInstance, key: str) -> ShardState:
    """What the instance holds for ``prompts[key]`` (``ShardState(None, None)``: nothing)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(AssetKey("prompts"), asset_partitions=[key]), limit=1
    ).records
    if not records:
        return ShardState(None, None)
    tags = records[0].asset_materialization.tags or {}
    return ShardState(tags.get(DATA_VERSION_TAG), records[0].storage_id)


def changed_shards(
    versions: dict[str, str], cursor: PromptCursor, instance: DagsterInstance
) -> dict[str, ShardState]:
    """Shards whose hash differs from the cursor's (from the instance's, for a shard the
    cursor does not know), with the shard's materialized state."""
    changed = {}
    for key, version in versions.items():
        state = materialized_shard(instance, key)
        if version != cursor.versions.get(key, state.version):
            changed[key] = state
    return changed


def make_prompt_sensor(minimum_interval_seconds: int = 30) -> SensorDefinition:
    """The prompt sensor, ticking every ``minimum_interval_seconds``."""

    @sensor(
        job_name="collect_noise_sequences",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Watches the training prompt source (GN_TRAIN_PROMPTS, a file or a directory) and "
            "requests a collect_noise_sequences run for each shard whose prompts changed, "
            "added shards included; never twice for the same content."
        ),
    )
    def prompt_sensor(
        context: SensorEvaluationContext, prompt_source: PromptSourceResource
    ) -> SensorResult | SkipReason:
        return evaluate_prompt_sensor(context, prompt_source)

    return prompt_sensor


def evaluate_prompt_sensor(
    context: SensorEvaluationContext, prompt_source: PromptSourceResource
) -> SensorResult | SkipReason:
    """One tick of the prompt sensor (see the module docstring)."""
    cursor = PromptCursor.parse(context.cursor)
    signature = prompt_source.train_signature()
    if signature is not None and signature == cursor.signature:
        return SkipReason("The prompt source is unchanged (same files, sizes and times).")
    source = prompt_source.shards()
    registered = registered_shards(context.instance)
    added = new_shards(registered, list(source))
    keys = registered + added
    versions = {key: shard_version(source.get(key, [])) for key in keys}
    changed = changed_shards(versions, cursor, context.instance)
    context.log.info(f"{len(changed)} of {len(versions)} shards changed: {sorted(changed)}")
    return SensorResult(
        run_requests=[
            RunRequest(
                partition_key=key,
                # named, so the automation sees that noise_sequences ran with its prompts
                asset_selection=COLLECT_ASSETS,
                run_key=f"{key}:{versions[key]}:{state.storage_id}",
                tags={"golden_noise/prompts_version": versions[key]},
            )
            for key, state in changed.items()
        ],
        asset_events=[
            AssetObservation("prompt_source", partition=key, tags={DATA_VERSION_TAG: versions[key]})
            for key in changed
        ],
        dynamic_partitions_requests=[prompt_shards.build_add_request(added)] if added else [],
        cursor=PromptCursor(signature, versions).dumps(),
    )


@definitions
def defs() -> Definitions:
    return Definitions(sensors=[make_prompt_sensor(current_settings().sensor_interval)])
