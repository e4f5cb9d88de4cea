"""Fuzzing the prompt reader: whatever the file, it returns clean prompts or raises
PromptFileError naming the file, never another exception (issue 14)."""

import csv
import io
import tempfile
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gn_models.data.prompt_files import MAX_PROMPT_CHARS, PROMPT_COLUMNS, read_prompt_file
from gn_models.data.prompt_rows import PromptFileError, normalise_prompt
from gn_models.types import Prompt

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SUFFIXES = st.sampled_from([".csv", ".txt", ".CSV", ".tsv"])  # .tsv reads as text lines
BOM = "\ufeff"

# The characters that break CSV and text files, and a few ordinary ones
TRICKY = st.sampled_from(
    [
        *(",", '"', '""', "\r", "\n", "\r\n", "\0", "\t", " ", "  ", BOM, "\u2028", "\u2029"),
        *("\x07", "\x0b", "\x1c", "\x7f", "\x85", "\x9b", "é", "猫", "\ud7ff", "\U0001f600"),
    ]
)
WORDS = st.sampled_from(["a cat", "dog", "the number 7", "7", "-3", "x", "", "label", "prompt"])
PLAIN = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=5)  # no controls
PIECE = st.one_of(WORDS, WORDS, PLAIN, TRICKY)  # control characters come from TRICKY only
CELL = st.one_of(
    *[st.lists(PIECE, max_size=4).map("".join)] * 6,
    st.integers(MAX_PROMPT_CHARS - 2, MAX_PROMPT_CHARS + 2).map(lambda n: "x" * n),
)
HEADER_NAMES = st.one_of(
    st.sampled_from([*PROMPT_COLUMNS, "Prompts", "CAPTION", " Text ", "label", "LABEL"]),
    st.sampled_from(["id", "caption_text", "Category", "caption_zh", "note", ""]),
    PLAIN,
)


@st.composite
def table_text(draw) -> str:
    """Rows of cells, sometimes behind a header, some quoted, with the line ends of a file."""
    header = draw(st.lists(HEADER_NAMES, max_size=4))
    rows = draw(st.lists(st.lists(CELL, max_size=4), max_size=6))
    quote = draw(st.booleans())
    lines = [
        ",".join(f'"{c}"' if quote and draw(st.booleans()) else c for c in row)
        for row in ([header] if header else []) + rows
    ]
    end = draw(st.sampled_from(["\n", "\n", "\r\n", "\r\n", "\r"]))  # "\r": old Mac files
    text = end.join(lines) + (end if draw(st.booleans()) else "")
    return (BOM if draw(st.booleans()) else "") + text


def check_read(data: bytes, suffix: str) -> None:
    """read_prompt_file on ``data`` returns clean prompts or raises PromptFileError naming it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"prompts{suffix}"
        path.write_bytes(data)
        try:
            prompts = read_prompt_file(path, allow_empty=True)
        except PromptFileError as err:
            assert str(path) in str(err)
            event("refused")  # pytest --hypothesis-show-statistics shows the share
            return
    event("read: no prompt" if not prompts else "read: prompts")
    assert isinstance(prompts, list)
    assert len({p.text for p in prompts}) == len(prompts)  # de-duplicated
    for prompt in prompts:
        assert isinstance(prompt, Prompt)
        assert prompt.label is None or type(prompt.label) is int
        text = prompt.text
        assert text and text == normalise_prompt(text) and len(text) <= MAX_PROMPT_CHARS
        assert not any(unicodedata.category(c) == "Cc" for c in text)  # no line breaks either


@FUZZ
@given(data=st.binary(max_size=300), suffix=SUFFIXES)
def test_random_bytes(data, suffix):
    check_read(data, suffix)


@settings(FUZZ, max_examples=1000)
@given(text=table_text(), suffix=SUFFIXES)
def test_random_tables(text, suffix):
    check_read(text.encode(), suffix)


# Prompt texts a person writes: no control characters or surrogates, and no U+FEFF (at the
# start of a file it is the byte order mark, which is dropped)
PROMPT_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=BOM), max_size=40
)


def expected(rows: list[tuple[str, int | None]]) -> list[Prompt]:
    """The prompts of ``rows``: normalised, blank dropped, first occurrence (and label) kept."""
    first: dict[str, Prompt] = {}
    for text, label in rows:
        text = normalise_prompt(text)
        if text:
            first.setdefault(text, Prompt(text, label))
    return list(first.values())


@settings(FUZZ, max_examples=400)
@given(texts=st.lists(PROMPT_TEXT, max_size=10), bom=st.booleans(), crlf=st.booleans())
def test_a_txt_file_reads_back_its_lines(texts, bom, crlf):
    text = (BOM if bom else "") + "".join(t + ("\r\n" if crlf else "\n") for t in texts)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "prompts.txt"
        path.write_bytes(text.encode())
        assert read_prompt_file(path, allow_empty=True) == expected([(t, None) for t in texts])


@settings(FUZZ, max_examples=400)
@given(rows=st.lists(st.tuples(PROMPT_TEXT, st.none() | st.integers(-(10**6), 10**6)), max_size=10))
def test_a_csv_file_written_by_the_csv_module_reads_back_its_rows(rows):
    out = io.StringIO()
    csv.writer(out).writerows([("prompt", "label"), *rows])  # quotes what needs quoting, CRLF
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "prompts.csv"
        path.write_bytes(out.getvalue().encode())
        assert read_prompt_file(path, allow_empty=True) == expected(rows)
