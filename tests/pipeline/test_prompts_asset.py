import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from gn_dagster.assets.prompts import content_hash, prompts, read_prompts_frame
from gn_dagster.partitions import NUM_SHARDS, SHARD_KEYS
from gn_dagster.resources import PromptSourceResource
from gn_dagster.storage import StorageResource
from gn_models.prompts import PromptFileError, shard_of


def run(tmp_path, source, shard, instance):
    return materialize(
        [prompts],
        partition_key=shard,
        instance=instance,
        resources={
            "storage": StorageResource(root=str(tmp_path / "artifacts")),
            "prompt_source": PromptSourceResource(train_path=str(source)),
        },
    )


def test_editing_one_prompt_changes_one_shard(tmp_path):
    lines = [f"a prompt about thing {i}" for i in range(40)]
    source = tmp_path / "p.txt"
    source.write_text("\n".join(lines))
    edited = lines[7] + " and more"
    changed = {shard_of(lines[7], NUM_SHARDS), shard_of(edited, NUM_SHARDS)}
    with DagsterInstance.ephemeral() as instance:
        before = {}
        for shard in SHARD_KEYS:
            run(tmp_path, source, shard, instance)
            before[shard] = content_hash(
                read_prompts_frame(tmp_path / "artifacts/prompts" / f"{shard}.parquet")
            )
        source.write_text("\n".join([*lines[:7], edited, *lines[8:]]))
        for i, shard in enumerate(SHARD_KEYS):
            result = run(tmp_path, source, shard, instance)
            version = result.asset_materializations_for_node("prompts")[0].tags[
                "dagster/data_version"
            ]
            assert (version != before[shard]) == (i in changed), shard
            assert version == content_hash(
                read_prompts_frame(tmp_path / "artifacts/prompts" / f"{shard}.parquet")
            )


def test_bad_prompt_file_fails_clearly_and_keeps_the_shard(tmp_path):
    source = tmp_path / "p.csv"
    source.write_text("prompt\nfirst\nsecond\nthird\n")
    shard = SHARD_KEYS[shard_of("first", NUM_SHARDS)]
    path = tmp_path / "artifacts/prompts" / f"{shard}.parquet"
    with DagsterInstance.ephemeral() as instance:
        run(tmp_path, source, shard, instance)
        written = pd.read_parquet(path)
        source.write_bytes(b"prompt\nfirst\ncaf\xe9\n")
        with pytest.raises(PromptFileError, match="not valid UTF-8"):
            run(tmp_path, source, shard, instance)
    pd.testing.assert_frame_equal(pd.read_parquet(path), written)
