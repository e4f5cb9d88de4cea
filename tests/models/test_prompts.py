import pytest

from gn_models.prompts import Prompt, PromptFileError, prompt_seed, read_prompt_file, shard_of


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_txt_blank_lines_whitespace_and_duplicates(tmp_path):
    path = write(tmp_path, "p.txt", b"a  cat\n\n   \nA dog\n a cat \n\tlast\tone\n")
    assert read_prompt_file(path) == [Prompt("a cat"), Prompt("A dog"), Prompt("last one")]


def test_csv_with_bom_header_label_and_extra_columns(tmp_path):
    data = (
        "\ufeffid,Caption,note,label\n0,the number 7,x,7\n1,,y,\n2,the  number 7,z,3\n3,a two,,2\n"
    )
    path = write(tmp_path, "p.csv", data.encode("utf-8"))
    # the duplicate keeps its first occurrence and label; the blank prompt row is dropped
    assert read_prompt_file(path) == [Prompt("the number 7", 7), Prompt("a two", 2)]


def test_csv_without_header(tmp_path):
    path = write(tmp_path, "p.csv", b"first prompt,1\nsecond prompt,\n")
    assert read_prompt_file(path) == [Prompt("first prompt", 1), Prompt("second prompt")]


def test_drawbench_layout(tmp_path):
    path = write(tmp_path, "d.csv", b'"Prompts","Category"\n"A red colored car.","Colors"\n')
    assert read_prompt_file(path) == [Prompt("A red colored car.")]


def test_real_prompt_sets_parse():
    from pathlib import Path

    shared = Path(__file__).resolve().parents[3] / "shared" / "data" / "prompts"
    if not shared.is_dir():
        pytest.skip("../shared/data/prompts is not beside this checkout")
    drawbench = read_prompt_file(shared / "drawbench.csv")
    pickapic = read_prompt_file(shared / "pickapic_test.csv")
    assert len(drawbench) > 100 and all(p.text and p.label is None for p in drawbench)
    assert pickapic[0].text == "A curious cat exploring a haunted mansion"  # BOM, caption column


def test_non_utf8_bytes_give_clear_error(tmp_path):
    path = write(tmp_path, "bad.txt", b"fine line\ncaf\xe9 au lait\n")
    with pytest.raises(PromptFileError, match=r"bad\.txt.*not valid UTF-8.*line 2"):
        read_prompt_file(path)


def test_empty_file_names_the_file(tmp_path):
    path = write(tmp_path, "empty.csv", b"")
    with pytest.raises(PromptFileError, match=r"empty\.csv holds no prompt"):
        read_prompt_file(path)
    header_only = write(tmp_path, "header.csv", b"prompt,label\n\n")
    with pytest.raises(PromptFileError, match="holds no prompt"):
        read_prompt_file(header_only)


def test_missing_file(tmp_path):
    with pytest.raises(PromptFileError, match=r"nope\.csv does not exist"):
        read_prompt_file(tmp_path / "nope.csv")


def test_bad_label(tmp_path):
    path = write(tmp_path, "p.csv", b"prompt,label\na seven,seven\n")
    with pytest.raises(PromptFileError, match="label 'seven' is not an integer"):
        read_prompt_file(path)


def test_sharding_is_stable_and_local():
    texts = [f"prompt number {i}" for i in range(200)]
    shards = [shard_of(t, 8) for t in texts]
    assert set(shards) == set(range(8))
    assert shards == [shard_of(t, 8) for t in texts]  # deterministic
    assert shard_of("  prompt   number 3 ", 8) == shards[3]  # normalised before hashing
    assert prompt_seed("a", 0) != prompt_seed("a", 1) != prompt_seed("b", 1)
