import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from gn_dagster.defs.prompts.assets import prompts
from gn_dagster.partitions import new_shards, prompt_shards, registered_shards
from gn_dagster.prompt_tables import read_prompts_frame
from gn_dagster.resources.prompt_source import PromptSourceResource
from gn_dagster.resources.storage import StorageResource
from gn_dagster.settings import Settings
from gn_models.data.prompt_rows import PromptFileError
from gn_models.data.shards import hash_shard_keys, shard_of, shard_version

NUM_SHARDS = Settings().num_shards
SHARDS = hash_shard_keys(NUM_SHARDS)


def run(tmp_path, source, shard, instance):
    instance.add_dynamic_partitions(
        prompt_shards.name, new_shards(registered_shards(instance), [shard])
    )
    return materialize(
        [prompts],
        partition_key=shard,
        instance=instance,
        resources={
            "storage": StorageResource(root=str(tmp_path / "artifacts")),
            "prompt_source": PromptSourceResource(train_path=str(source)),
        },
    )


def shard_file(tmp_path, shard):
    return tmp_path / "artifacts/prompts" / f"{shard}.parquet"


def test_editing_one_prompt_changes_one_shard(tmp_path):
    lines = [f"a prompt about thing {i}" for i in range(40)]
    source = tmp_path / "p.txt"
    source.write_text("\n".join(lines))
    edited = lines[7] + " and more"
    changed = {shard_of(lines[7], NUM_SHARDS), shard_of(edited, NUM_SHARDS)}
    with DagsterInstance.ephemeral() as instance:
        before = {}
        for shard in SHARDS:
            run(tmp_path, source, shard, instance)
            before[shard] = shard_version(read_prompts_frame(shard_file(tmp_path, shard)))
        source.write_text("\n".join([*lines[:7], edited, *lines[8:]]))
        for i, shard in enumerate(SHARDS):
            result = run(tmp_path, source, shard, instance)
            version = result.asset_materializations_for_node("prompts")[0].tags[
                "dagster/data_version"
            ]
            assert (version != before[shard]) == (i in changed), shard
            assert version == shard_version(read_prompts_frame(shard_file(tmp_path, shard)))


def test_a_directory_source_has_one_shard_per_file(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "animals.txt").write_text("a cat\na dog\n")
    (folder / "cities.csv").write_text("prompt\nParis at night\na dog\n")  # dog: first file's
    with DagsterInstance.ephemeral() as instance:
        for shard, expected in [("animals", ["a cat", "a dog"]), ("cities", ["Paris at night"])]:
            run(tmp_path, folder, shard, instance)
            texts = [p.text for p in read_prompts_frame(shard_file(tmp_path, shard))]
            assert texts == expected
        run(tmp_path, folder, "deleted-file", instance)  # a shard the source no longer has
        assert read_prompts_frame(shard_file(tmp_path, "deleted-file")) == []


def test_bad_prompt_file_fails_clearly_and_keeps_the_shard(tmp_path):
    source = tmp_path / "p.csv"
    source.write_text("prompt\nfirst\nsecond\nthird\n")
    shard = SHARDS[shard_of("first", NUM_SHARDS)]
    path = shard_file(tmp_path, shard)
    with DagsterInstance.ephemeral() as instance:
        run(tmp_path, source, shard, instance)
        written = pd.read_parquet(path)
        source.write_bytes(b"prompt\nfirst\ncaf\xe9\n")
        with pytest.raises(PromptFileError, match="not valid UTF-8"):
            run(tmp_path, source, shard, instance)
    pd.testing.assert_frame_equal(pd.read_parquet(path), written)
