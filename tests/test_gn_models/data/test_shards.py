import os
from pathlib import Path

import pytest

from gn_models.data.prompt_rows import PromptFileError
from gn_models.data.shards import (
    MAX_SHARDS,
    hash_shard_keys,
    read_shards,
    shard_of,
    shard_version,
    source_signature,
)
from gn_models.types import Prompt


def test_a_file_is_split_into_every_hash_shard(tmp_path):
    lines = [f"prompt number {i}" for i in range(50)]
    source = tmp_path / "p.txt"
    source.write_text("\n".join(lines))
    shards = read_shards(source, 4)
    assert list(shards) == ["shard-00", "shard-01", "shard-02", "shard-03"]
    for i, key in enumerate(shards):
        assert [p.text for p in shards[key]] == [t for t in lines if shard_of(t, 4) == i]


def test_a_directory_has_one_shard_per_file_and_deduplicates_across_files(tmp_path):
    (tmp_path / "b.csv").write_text("prompt,label\nseven,7\none,1\n")
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    (tmp_path / "empty.txt").write_text("\n")  # all prompts deleted: an empty shard
    (tmp_path / "notes.md").write_text("not a prompt file")
    (tmp_path / ".hidden.txt").write_text("ignored")
    shards = read_shards(tmp_path, num_shards=8)
    assert shards == {
        "a": [Prompt("one"), Prompt("two")],
        "b": [Prompt("seven", 7)],  # "one" belongs to a.txt, first in name order
        "empty": [],
    }


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "holds no prompt file"),
        (["x y.txt"], "not a valid shard key"),
        (["same.txt", "same.csv"], "map to the same shard"),
        ([f"f{i:03d}.txt" for i in range(MAX_SHARDS + 1)], "Merge files"),
    ],
)
def test_bad_directories_are_refused_with_the_fix(tmp_path, files, message):
    for name in files:
        (tmp_path / name).write_text("a prompt\n")
    with pytest.raises(PromptFileError, match=message):
        read_shards(tmp_path, 8)


def test_shard_count_is_limited_below_dagsters_staleness_threshold():
    assert len(hash_shard_keys(MAX_SHARDS)) == 99
    with pytest.raises(ValueError, match=r"1\.\.99"):
        hash_shard_keys(100)


def test_shard_version_depends_on_content_not_order():
    a, b = Prompt("a cat", 1), Prompt("a dog")
    assert shard_version([a, b]) == shard_version([b, a])
    assert shard_version([a, b]) != shard_version([a, Prompt("a dog", 2)])
    assert shard_version([a]) != shard_version([a, b]) != shard_version([])


def test_signature_changes_with_files_not_with_reading(tmp_path):
    (tmp_path / "a.txt").write_text("one\n")
    first = source_signature(tmp_path)
    assert source_signature(tmp_path) == first
    os.utime(tmp_path / "a.txt", ns=(1, 1))
    assert source_signature(tmp_path) != first
    (tmp_path / "b.txt").write_text("two\n")
    assert source_signature(tmp_path / "a.txt") != source_signature(tmp_path)
    assert source_signature(tmp_path / "missing.txt") is None
    spec = "hf:some/dataset?split=test&column=caption"
    assert source_signature(spec) == source_signature(spec) != source_signature(spec + "&limit=5")


@pytest.mark.parametrize("name", ["x y.txt", "café.csv", "日本.txt", "a,b.csv", "tab\tname.txt"])
def test_a_file_name_that_is_no_partition_key_is_named(tmp_path, name):
    (tmp_path / "good-1.txt").write_text("a prompt\n")
    (tmp_path / name).write_text("another prompt\n")
    with pytest.raises(PromptFileError) as caught:
        read_shards(tmp_path, 8)
    message = str(caught.value)
    assert (
        f"Prompt file {tmp_path / name}: its name {Path(name).stem!r} is not a valid shard key"
        in message
    )
    assert "ASCII letters, digits, '.', '_' and '-' only" in message
