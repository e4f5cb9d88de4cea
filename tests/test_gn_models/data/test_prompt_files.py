import re
import time
from pathlib import Path

import pandas as pd
import pytest

from gn_models.data.collect import prompt_seed
from gn_models.data.prompt_files import MAX_PROMPT_CHARS, read_prompt_file
from gn_models.data.prompt_rows import PromptFileError, normalise_prompt, parse_label
from gn_models.data.prompt_source import read_prompts
from gn_models.data.shards import shard_of
from gn_models.types import Prompt
from helpers.paths import SHARED_PROMPTS

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # CJK ideographs, full-width marks


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


@pytest.fixture
def shared_prompts() -> Path:
    if not (SHARED_PROMPTS / "drawbench.csv").is_file():
        pytest.skip(f"real prompt sets not found: {SHARED_PROMPTS} is not beside this checkout")
    return SHARED_PROMPTS


def test_drawbench(shared_prompts):
    path = shared_prompts / "drawbench.csv"  # header "Prompts","Category"; 200 unique rows
    prompts = read_prompts(str(path))
    assert len(prompts) == 200
    assert prompts[:2] == [Prompt("A red colored car."), Prompt("A black colored car.")]
    assert prompts[-1].text == (
        "New York Skyline with 'Google Research Pizza Cafe' written with fireworks on the sky."
    )
    categories = set(pd.read_csv(path)["Category"])  # Colors, Counting, ...: never a prompt
    assert all(p.label is None and p.text not in categories for p in prompts)
    assert read_prompt_file(path) == prompts


def test_pickapic_test(shared_prompts):
    # UTF-8 BOM; columns 序号 (id), caption, caption_zh, 备注 (note); 500 rows, one with a
    # blank caption (id 87); some caption_zh cells span lines (ids 344, 350, 362, 469).
    path = shared_prompts / "pickapic_test.csv"
    prompts = read_prompts(str(path))
    texts = [p.text for p in prompts]
    assert len(prompts) == 499 and all(p.label is None for p in prompts)
    assert texts[:3] == [
        "A curious cat exploring a haunted mansion",
        "a spanish water dog breed as arthur morgan from red dead redemption",
        "Portrait of a 26yr white woman, hyper-detailed, extremely ashamed, soft skin",
    ]
    # quoted caption whose caption_zh starts with a newline; the next row stays aligned
    at = texts.index('Hatsune Miku wearing a hat with the text "lol" on it')
    assert texts[at + 1] == "an online marketer worried about his job being taken away by AI"
    # the same as an independent parser's caption column, blank dropped, order kept
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert texts == list(dict.fromkeys(normalise_prompt(c) for c in frame["caption"].dropna()))
    # no Chinese leaks in from caption_zh or the note: the only CJK text is the four captions
    # that Pick-a-Pic users wrote in Chinese (or with a full-width comma) themselves
    other = frame.drop(columns="caption").fillna("").map(normalise_prompt)
    other = set(other.to_numpy().ravel()) - set(frame["caption"].fillna("").map(normalise_prompt))
    assert len(other) > 400 and not other & set(texts)  # ids, translations, notes
    assert [t for t in texts if CJK.search(t)] == [
        "a red hair girl look at you\uff0cdistant view",
        "一张由珊瑚构成的矢量图logo",
        "大海上的游轮\uff0c泰坦尼克号\uff0c壮观\uff0c冰山",
        "夫妻肺片",
    ]
    assert not any("\n" in t for t in texts)


def test_read_prompts_takes_txt_and_csv_paths(tmp_path):
    txt = write(tmp_path, "p.txt", b"a  cat\n\nA dog\n a cat \n")
    csv = write(tmp_path, "p.csv", b"prompt,label\na cat,1\n")
    assert read_prompts(str(txt)) == read_prompts(txt) == [Prompt("a cat"), Prompt("A dog")]
    assert read_prompts(str(csv)) == [Prompt("a cat", 1)]


def test_read_prompts_missing_file_keeps_the_file_error(tmp_path):
    with pytest.raises(PromptFileError, match=r"nope\.csv does not exist"):
        read_prompts(str(tmp_path / "nope.csv"))


def test_non_utf8_bytes_give_clear_error(tmp_path):
    path = write(tmp_path, "bad.txt", b"fine line\ncaf\xe9 au lait\n")
    with pytest.raises(PromptFileError, match=r"bad\.txt.*not valid UTF-8.*line 2"):
        read_prompt_file(path)


def test_empty_file_names_the_file(tmp_path):
    for name, data in [("empty.csv", b""), ("blank.txt", b"\n  \n\t\n"), ("commas.csv", b",,\n")]:
        path = write(tmp_path, name, data)
        with pytest.raises(PromptFileError, match=rf"{name} holds no prompt \(it is empty or only"):
            read_prompt_file(path)
        assert read_prompt_file(path, allow_empty=True) == []


def test_a_header_only_csv_says_the_header_was_found(tmp_path):
    path = write(tmp_path, "header.csv", b"\xef\xbb\xbfprompt,label\r\n\r\n,3\n")
    error = r"header\.csv holds no prompt \(a header row \['prompt', 'label'\] was found but no"
    with pytest.raises(PromptFileError, match=error):
        read_prompt_file(path)
    assert read_prompt_file(path, allow_empty=True) == []


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


# --- Hugging Face datasets (hf: specs) -----------------------------------------------------

HUB_NAME = "yuvalkirstain/pickapic_v1_no_images"
ROWS = {  # whitespace variants, a duplicate, a null and a blank caption, labels with a gap
    "caption": ["a  red car", "a blue\nbird", None, "a red car ", "   ", "green tea"],
    "label": [3, None, 1, 4, 5, 6],
    "caption_zh": ["一辆红色的车", "一只蓝色的鸟", "", "红色的车", "", "绿茶"],
}
EXPECTED = [Prompt("a red car", 3), Prompt("a blue bird"), Prompt("green tea", 6)]


def rows_frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS).astype({"label": "Int64"})  # nullable int: 3, <NA>, 1, ...


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty datasets cache for the test: nothing read from or written to ~/.cache."""
    datasets = pytest.importorskip("datasets")
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(cache))
    return cache


@pytest.fixture
def parquet_dir(tmp_path):
    """A dataset folder laid out like a `hf download` snapshot: data/test-*.parquet."""
    root = tmp_path / "pickapic_snapshot"
    (root / "data").mkdir(parents=True)
    rows_frame().to_parquet(root / "data" / "test-00000-of-00001.parquet")
    return root


def test_hf_local_parquet_snapshot(hf_cache, parquet_dir):
    spec = f"hf:{parquet_dir}?split=test&column=caption&label=label"
    assert read_prompts(spec) == EXPECTED
    # normalised and de-duplicated exactly like the same rows in a prompt file
    csv = parquet_dir / "same.csv"
    rows_frame().rename(columns={"caption": "prompt"}).to_csv(csv, index=False)
    assert read_prompt_file(csv) == EXPECTED
    assert read_prompts(f"hf:{parquet_dir}?split=test&column=caption&limit=2") == [
        Prompt("a red car"),
        Prompt("a blue bird"),
    ]


def test_hf_local_csv_dir_train_split(hf_cache, tmp_path):
    root = tmp_path / "csv_dataset"
    root.mkdir()
    rows_frame().to_csv(root / "prompts.csv", index=False)  # one file -> split "train"
    cache = tmp_path / "own-cache"
    assert read_prompts(f"hf:{root}?split=train&column=caption&cache_dir={cache}") == [
        Prompt(p.text) for p in EXPECTED
    ]
    assert cache.is_dir() and not hf_cache.exists()  # cache_dir= is where datasets writes


def test_hf_hub_name_read_from_cache_offline(hf_cache, tmp_path, monkeypatch):
    # What `load_dataset(HUB_NAME, split="test")` leaves in the cache on a machine with
    # internet: <cache>/<owner>___<name>/<config>/<version>/<hash>/<name>-<split>.arrow.
    from datasets.packaged_modules.csv.csv import Csv

    source = tmp_path / "test.csv"
    rows_frame().to_csv(source, index=False)
    name = HUB_NAME.split("/")[1]
    builder = Csv(
        cache_dir=str(tmp_path / "build"), dataset_name=name, config_name="default",
        hash="0123abcd", data_files={"test": str(source)},
    )  # fmt: skip
    builder.download_and_prepare()
    snapshot = hf_cache / HUB_NAME.replace("/", "___") / "default" / "0.0.0" / "0123abcd"
    snapshot.parent.mkdir(parents=True)
    Path(builder.cache_dir).rename(snapshot)
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):  # offline whatever the environment
        monkeypatch.delenv(var, raising=False)
    spec = f"hf:{HUB_NAME}?split=test&column=caption"
    assert read_prompts(spec) == [Prompt(p.text) for p in EXPECTED]
    with pytest.raises(PromptFileError, match=r"Unknown split.*validation.*test"):
        read_prompts(f"hf:{HUB_NAME}?split=validation&column=caption")


@pytest.mark.parametrize("offline_env", ["1", None])
def test_hf_hub_name_not_cached_says_what_to_fetch(hf_cache, monkeypatch, offline_env):
    from gn_models.data.hf_datasets import DatasetNotCachedError

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    if offline_env:
        monkeypatch.setenv("HF_DATASETS_OFFLINE", offline_env)
    started = time.monotonic()
    with pytest.raises(DatasetNotCachedError) as caught:
        read_prompts(f"hf:{HUB_NAME}?split=test&column=caption")
    assert time.monotonic() - started < 10  # no network retries (those take ~20 s)
    message = str(caught.value)
    assert isinstance(caught.value, PromptFileError)
    assert f"not in the datasets cache {hf_cache}" in message
    assert (
        'python -c "import datasets; '
        f"datasets.load_dataset('{HUB_NAME}', split='test')\"" in message
    )
    assert f"hf download --repo-type dataset {HUB_NAME} --local-dir <dir>" in message
    assert "HF_DATASETS_OFFLINE=1" in message


def test_hf_unknown_column_lists_the_columns(hf_cache, parquet_dir):
    with pytest.raises(PromptFileError, match=r"column='text'.*columns are: caption, label, cap"):
        read_prompts(f"hf:{parquet_dir}?split=test&column=text")
    with pytest.raises(PromptFileError, match=r"label='digit'.*columns are: caption, label"):
        read_prompts(f"hf:{parquet_dir}?split=test&column=caption&label=digit")
    with pytest.raises(PromptFileError, match=r"'label' holds int values, not text"):
        read_prompts(f"hf:{parquet_dir}?split=test&column=label")


def test_hf_unknown_split_lists_the_splits(hf_cache, parquet_dir):
    with pytest.raises(PromptFileError, match=r"Unknown split \"train\".*\['test'\]"):
        read_prompts(f"hf:{parquet_dir}?split=train&column=caption")


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("hf:owner/name?split=test", "missing required key column"),
        ("hf:owner/name?column=caption", "missing required key split"),
        ("hf:owner/name?split=test&column=caption&revision=x", "unknown key revision"),
        ("hf:owner/name?split=a&split=b&column=caption", "repeated key split"),
        ("hf:owner/name?split=test&column=", "empty value for column"),
        ("hf:owner/name?split=test&column=caption&limit=-3", "limit='-3' is not a positive"),
        ("hf:?split=test&column=caption", "names no dataset"),
        ("hf:owner/name?split", "not a list of key=value pairs"),
        ("hf:/no/such/dir?split=test&column=caption", "directory /no/such/dir does not exist"),
    ],
)
def test_hf_bad_specs(spec, error):
    with pytest.raises(PromptFileError, match=re.escape(error)):
        read_prompts(spec)


def test_parse_label_cells():
    assert [parse_label(v, "row") for v in (" 7 ", 7, 7.0, "", None, float("nan"))] == [
        7, 7, 7, None, None, None,
    ]  # fmt: skip
    for bad in ("seven", 7.5, True):
        with pytest.raises(PromptFileError, match=r"^row: label .* is not an integer"):
            parse_label(bad, "row")


def test_a_header_without_a_prompt_column_names_the_columns_found(tmp_path):
    path = tmp_path / "captions.csv"
    path.write_text("caption_text,label\na handwritten three,3\n")
    with pytest.raises(PromptFileError, match=r"\['caption_text', 'label'\].*'prompt', 'prompts'"):
        read_prompt_file(path)


# --- Bad input (issue 14): a clear error naming the file and line, or a documented normalisation


def refused(path: Path) -> str:
    """The message of the PromptFileError that reading ``path`` raises; it names the file."""
    with pytest.raises(PromptFileError) as caught:
        read_prompt_file(path)
    message = str(caught.value)
    assert str(path) in message
    return message


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            b"prompt,label\na cat,1\na cat, sitting on a mat,2\n",
            "line 3 has 3 fields but the header has 2",
        ),
        (
            b"a cat,1\na cat, sitting, happy\n",
            r"line 2 has 3 fields but a headerless file has at most 2",
        ),
        (b"id,caption\n1,a cat\n2,a cat, sitting\n", "line 3 has 3 fields but the header has 2"),
    ],
)
def test_rows_with_more_fields_than_the_header_are_refused(tmp_path, data, error):
    message = refused(write(tmp_path, "p.csv", data))
    assert re.search(error, message)
    assert (
        'unquoted comma cuts a prompt there. Either quote the prompt ("a cat, sitting"' in message
    )
    assert "or use a .txt file" in message


def test_quoted_commas_and_trailing_empty_fields_are_read(tmp_path):
    path = write(tmp_path, "p.csv", b'prompt,label\n"a cat, sitting",2,,\n"say ""hi""",\n,,\n')
    assert read_prompt_file(path) == [Prompt("a cat, sitting", 2), Prompt('say "hi"')]


def test_a_text_label_hints_at_an_unquoted_comma(tmp_path):
    message = refused(write(tmp_path, "p.csv", b"a dog,4\na cat, sitting\n"))
    assert "line 2: label 'sitting' is not an integer" in message
    assert "An unquoted comma in the prompt moves the rest of it into the label" in message
    # a label column before the prompt column: no comma can move text into it
    message = refused(write(tmp_path, "q.csv", b"label,prompt\nseven,a cat\n"))
    assert "line 2: label 'seven' is not an integer" in message and "comma" not in message


@pytest.mark.parametrize(
    ("data", "error"),
    [  # quote left open on line 3 ...
        # ... to the end of the file
        (b'prompt,label\na cat,1\n"a dog,2\na bird,3\n', r"line 3 cannot be read as CSV \(unex"),
        # ... until a later quote closes it, followed by text
        (b'prompt,label\na cat,1\n"a dog,2\na bird,3\n"a fish",4\n', r"line 3 cannot be read"),
        # ... until a later quote closes it at a comma: the rows below look like one prompt
        (b'prompt,label\na cat,1\n"a dog,2\na bird,3\na 12",4\n', r"line 3: a quoted prompt run"),
    ],
)
def test_an_unterminated_quote_names_the_line_where_it_opens(tmp_path, data, error):
    message = refused(write(tmp_path, "p.csv", data))
    assert re.search(error, message)
    assert re.search(
        r"quote opened on line 3 is probably never closed|Close the quote opened on line 3", message
    )


def test_text_after_a_closing_quote_is_refused(tmp_path):
    message = refused(write(tmp_path, "p.csv", b'prompt,label\na cat,1\n"a" dog,2\n'))
    assert "line 3 cannot be read as CSV (',' expected after '\"')" in message
    assert 'a quote inside a quoted field is doubled ("")' in message
    assert "probably never closed" not in message  # a one-line row


def test_a_quoted_multiline_prompt_becomes_one_line(tmp_path):
    path = write(
        tmp_path, "p.csv", b'prompt,label\n"a small, blue\nbird",1\n"a red\r\n\r\ncar",2\n'
    )
    assert read_prompt_file(path) == [Prompt("a small, blue bird", 1), Prompt("a red car", 2)]


@pytest.mark.parametrize("suffix", [".csv", ".txt"])
def test_a_nul_byte_suggests_a_utf16_file(tmp_path, suffix):
    message = refused(write(tmp_path, f"p{suffix}", "a cat\na dog\n".encode("utf-16-le")))
    assert f"p{suffix}, line 1 holds a NUL byte: the file is probably UTF-16" in message
    assert f"iconv -f utf-16 -t utf-8 p{suffix}" in message


def test_a_utf16_file_with_a_byte_order_mark_is_named(tmp_path):
    message = refused(write(tmp_path, "p.txt", "a cat\na dog\n".encode("utf-16")))
    assert (
        "not valid UTF-8: byte 0xff at offset 0 (line 1); it starts like a UTF-16 file" in message
    )
    assert "iconv -f utf-16 -t utf-8 p.txt" in message


@pytest.mark.parametrize("suffix", [".csv", ".txt"])
@pytest.mark.parametrize("char", ["\x01", "\x07", "\x1b", "\x7f", "\x9b"])
def test_control_characters_are_refused_naming_the_code_point(tmp_path, suffix, char):
    path = write(tmp_path, f"p{suffix}", f"a cat\na dog\nan {char}owl\n".encode())
    assert f"line 3 holds the control character U+{ord(char):04X}" in refused(path)


@pytest.mark.parametrize("suffix", [".csv", ".txt"])
def test_whitespace_controls_and_line_separators_are_spaces_not_line_breaks(tmp_path, suffix):
    # tab, VT, FF, U+001C, NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR: inside the line, spaces
    text = "a\tcat\x0bsits\x0con\x1ca\x85mat\u2028at\u2029noon\nnext\n"
    path = write(tmp_path, f"p{suffix}", text.encode())
    assert [p.text for p in read_prompt_file(path)] == ["a cat sits on a mat at noon", "next"]


@pytest.mark.parametrize("suffix", [".csv", ".txt"])
@pytest.mark.parametrize("length", [MAX_PROMPT_CHARS + 1, 20_000, 10_000_000])
def test_an_overlong_line_is_refused_quickly(tmp_path, suffix, length):
    path = write(tmp_path, f"p{suffix}", b"a cat\n" + b"x" * length + b"\nlast\n")
    started = time.monotonic()
    message = refused(path)
    assert time.monotonic() - started < 1.5
    assert "line 2 " in message and f"at most {MAX_PROMPT_CHARS}" in message
    if length < 131_072 or suffix == ".txt":  # longer CSV fields stop the csv module first
        assert f"line 2 holds a prompt of {length} characters" in message


def test_a_prompt_of_max_length_is_read(tmp_path):
    path = write(tmp_path, "p.csv", b"prompt\n" + b"x" * MAX_PROMPT_CHARS + b"\n")
    assert read_prompt_file(path) == [Prompt("x" * MAX_PROMPT_CHARS)]


def test_duplicates_keep_the_first_occurrence_and_its_label(tmp_path):
    path = write(tmp_path, "p.csv", b"prompt,label\nb dog,2\na cat,1\n a  cat ,9\nb\tdog,\nc,3\n")
    assert read_prompt_file(path) == [Prompt("b dog", 2), Prompt("a cat", 1), Prompt("c", 3)]


def test_a_directory_in_place_of_a_file(tmp_path):
    (tmp_path / "prompts.csv").mkdir()
    with pytest.raises(
        PromptFileError, match=r"prompts\.csv is a directory; this source takes one"
    ):
        read_prompt_file(tmp_path / "prompts.csv")


@pytest.mark.parametrize("name", ["edited.csv", "edited.txt"])
def test_a_lone_carriage_return_names_the_file_and_line(tmp_path, name):
    path = write(tmp_path, name, b"prompt,label\na cat,1\na dog\r in the park,2\n")
    message = refused(path)
    assert f"{name}, line 3 holds a carriage return (\\r) that does not end the line" in message
    assert "dos2unix" in message


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (
            "p.csv",
            b"\xef\xbb\xbfprompt,label\r\na cat,1\r\n\r\na dog,\r\n",
            [("a cat", 1), ("a dog", None)],
        ),
        ("p.csv", b"\xef\xbb\xbfa cat,1\r\na dog\r\n", [("a cat", 1), ("a dog", None)]),
        ("p.txt", b"\xef\xbb\xbfa cat\r\n\r\na dog\r\n", [("a cat", None), ("a dog", None)]),
    ],
)
def test_bom_and_crlf_line_endings_are_read(tmp_path, name, data, expected):
    assert read_prompt_file(write(tmp_path, name, data)) == [Prompt(*p) for p in expected]
