"""Prompt assets: the prompt sources (observed), the sharded training prompts and the
evaluation prompts."""

from dagster import (
    AssetExecutionContext,
    DataVersion,
    DataVersionsByPartition,
    MaterializeResult,
    MetadataValue,
    asset,
    observable_source_asset,
)

from gn_dagster.automation import on_data_change
from gn_dagster.metadata import table
from gn_dagster.partitions import prompt_shards, registered_shards
from gn_dagster.prompt_tables import prompts_frame
from gn_dagster.resources.prompt_source import PromptSourceResource
from gn_dagster.resources.storage import StorageResource
from gn_models.data.prompt_source import read_prompts
from gn_models.data.shards import shard_version
from gn_models.types import Prompt
from gn_models.utils.tables import write_parquet

GROUP = "prompts"


@observable_source_asset(
    name="prompt_source",
    group_name=GROUP,
    partitions_def=prompt_shards,
    description=(
        "The training prompt source (GN_TRAIN_PROMPTS: a file split into hash shards, or a "
        "directory with one shard per file), observed per registered shard: data version = "
        "hash of the shard's prompts (the prompt sensor registers new shards). The sensor and the "
        "`observe_prompt_sources` schedule record observations; a shard whose version changed "
        "makes its `prompts` shard stale."
    ),
)
def observe_prompt_source(context, prompt_source: PromptSourceResource) -> DataVersionsByPartition:
    shards = prompt_source.shards()
    return DataVersionsByPartition(
        {key: shard_version(shards.get(key, [])) for key in registered_shards(context.instance)}
    )


@observable_source_asset(
    name="eval_prompt_source",
    group_name=GROUP,
    description=(
        "The evaluation prompt file (GN_EVAL_PROMPTS), observed by the `observe_prompt_sources` "
        "schedule: data version = hash of its prompts."
    ),
)
def observe_eval_prompt_source(prompt_source: PromptSourceResource) -> DataVersion:
    return DataVersion(shard_version(read_prompts(prompt_source.eval_file())))


def _result(prompts: list[Prompt], path, source: str) -> MaterializeResult:
    frame = prompts_frame(prompts)
    return MaterializeResult(
        data_version=DataVersion(shard_version(prompts)),
        metadata={
            "path": MetadataValue.path(str(path)),
            "source": MetadataValue.path(source),
            "num_prompts": len(prompts),
            "num_labelled": int(frame["label"].notna().sum()),
            "dagster/row_count": len(prompts),
            "preview": table(frame.head(10).astype({"label": "string"})),
        },
    )


@asset(
    group_name=GROUP,
    partitions_def=prompt_shards,
    deps=["prompt_source"],
    code_version="2",
    description=(
        "Training prompts of one shard: the shard's rows, whitespace-normalised, blank rows "
        "dropped, de-duplicated. A file source is split by a stable hash of each prompt's "
        "text, a directory source by file, so editing one prompt changes one shard. Data "
        "version = hash of the shard's prompts. Rematerialized by the prompt sensor."
    ),
)
def prompts(
    context: AssetExecutionContext, storage: StorageResource, prompt_source: PromptSourceResource
) -> MaterializeResult:
    rows = prompt_source.shard_prompts(context.partition_key)
    path = storage.prompts_path(context.partition_key)
    write_parquet(prompts_frame(rows), path)
    context.log.info(f"{len(rows)} prompts in {context.partition_key}")
    return _result(rows, path, prompt_source.train_file())


@asset(
    group_name=GROUP,
    deps=["eval_prompt_source"],
    code_version="1",
    automation_condition=on_data_change(),
    description=(
        "Evaluation prompts (digits profile: held-out phrasings never used in training), "
        "parsed like the training prompts. Not sharded. Reruns when an observation of "
        "`eval_prompt_source` finds a new version."
    ),
)
def eval_prompts(
    context: AssetExecutionContext, storage: StorageResource, prompt_source: PromptSourceResource
) -> MaterializeResult:
    source = prompt_source.eval_file()
    rows = read_prompts(source)
    path = storage.prompts_path("eval")
    write_parquet(prompts_frame(rows), path)
    return _result(rows, path, source)
