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

A source that cannot be read (``PromptFileError``: bytes that are not UTF-8, a CSV without a
prompt column, ...) fails no tick: the tick is skipped with the error, which names the file
and line, and the cursor keeps the last good state, so the first tick after the file is
fixed requests exactly the shards that changed. The failed fingerprint is remembered, so the
bad source is not read again until it changes.
"""

import json
from dataclasses import asdict, dataclass, field, replace

from dagster import (
    AssetKey,
    AssetObservation,
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

from gn_dagster.lineage import DATA_VERSION_TAG, Materialized, latest_materialization
from gn_dagster.partitions import new_shards, prompt_shards, registered_shards
from gn_dagster.resources.prompt_source import PromptSourceResource
from gn_dagster.settings import current_settings
from gn_models.data.prompt_rows import PromptFileError
from gn_models.data.shards import shard_version

COLLECT_ASSETS = [AssetKey("prompts"), AssetKey("noise_sequences")]


@dataclass
class PromptCursor:
    """The sensor's state: the source fingerprint and the hash of every shard last read, and
    the fingerprint and error of a source that failed to read since (None, "": none)."""

    signature: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    failed_signature: str | None = None
    error: str = ""

    @classmethod
    def parse(cls, cursor: str | None) -> "PromptCursor":
        return cls(**json.loads(cursor)) if cursor else cls()

    def dumps(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def changed_shards(
    versions: dict[str, str], cursor: PromptCursor, instance: DagsterInstance
) -> dict[str, Materialized]:
    """Shards whose hash differs from the cursor's (from the instance's, for a shard the
    cursor does not know), with the shard's materialized state."""
    changed = {}
    for key, version in versions.items():
        state = latest_materialization(instance, "prompts", key)
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
    """One tick of the prompt sensor (see the module docstring); a source that cannot be
    read gives a skipped tick with its error, never a failed one."""
    cursor = PromptCursor.parse(context.cursor)
    signature = prompt_source.train_signature()
    if signature is not None and signature == cursor.signature:
        return SkipReason("The prompt source is unchanged (same files, sizes and times).")
    if signature is not None and signature == cursor.failed_signature:
        return SkipReason(f"Unchanged since the last tick: {cursor.error}")
    try:
        source = prompt_source.shards()
    except PromptFileError as error:
        context.log.warning(str(error))
        failed = replace(cursor, failed_signature=signature, error=unreadable_message(error))
        return SensorResult(skip_reason=failed.error, cursor=failed.dumps())
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


def unreadable_message(error: PromptFileError) -> str:
    """The skip reason of a source that cannot be read: the error and what happens next."""
    return (
        f"{error} No run was requested; the sensor keeps its last good state and picks up "
        "the next edit of the prompt source."
    )


@definitions
def defs() -> Definitions:
    return Definitions(sensors=[make_prompt_sensor(current_settings().sensor_interval)])
