"""Prompt assets: the sharded training prompts and the evaluation prompts."""

import hashlib

import pandas as pd
from dagster import (
    AssetExecutionContext,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from gn_dagster.atomic import write_parquet
from gn_dagster.metadata import table
from gn_dagster.partitions import NUM_SHARDS, prompt_shards, shard_index
from gn_dagster.resources import PromptSourceResource
from gn_dagster.storage import StorageResource
from gn_models.prompts import Prompt, read_prompts, shard_of

GROUP = "prompts"


def prompts_frame(prompts: list[Prompt]) -> pd.DataFrame:
    """Prompts as a frame with columns prompt (str) and label (nullable Int64)."""
    return pd.DataFrame(
        {
            "prompt": pd.Series([p.text for p in prompts], dtype="string"),
            "label": pd.Series([p.label for p in prompts], dtype="Int64"),
        }
    )


def read_prompts_frame(path) -> list[Prompt]:
    """Inverse of ``prompts_frame`` from a parquet file."""
    frame = pd.read_parquet(path)
    return [
        Prompt(str(t), None if pd.isna(lab) else int(lab))
        for t, lab in zip(frame["prompt"], frame["label"], strict=False)
    ]


def content_hash(prompts: list[Prompt]) -> str:
    """SHA-256 of the prompts and labels, order-independent: the shard's data version."""
    lines = sorted(f"{p.text}\t{'' if p.label is None else p.label}" for p in prompts)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def _result(prompts: list[Prompt], path, source: str) -> MaterializeResult:
    frame = prompts_frame(prompts)
    return MaterializeResult(
        data_version=DataVersion(content_hash(prompts)),
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
    code_version="1",
    description=(
        "Training prompts of one shard: the prompt file's rows, whitespace-normalised, blank rows "
        "dropped, de-duplicated, and assigned to a shard by a stable hash of their text (editing "
        "one prompt changes one shard). Data version = hash of the shard's prompts."
    ),
)
def prompts(
    context: AssetExecutionContext, storage: StorageResource, prompt_source: PromptSourceResource
) -> MaterializeResult:
    source = prompt_source.train_file()
    shard = shard_index(context.partition_key)
    rows = [p for p in read_prompts(source) if shard_of(p.text, NUM_SHARDS) == shard]
    path = storage.prompts_path(context.partition_key)
    write_parquet(prompts_frame(rows), path)
    context.log.info(f"{len(rows)} prompts in {context.partition_key} from {source}")
    return _result(rows, path, source)


@asset(
    group_name=GROUP,
    code_version="1",
    description=(
        "Evaluation prompts (digits profile: held-out phrasings never used in training), "
        "parsed like the training prompts. Not sharded."
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
