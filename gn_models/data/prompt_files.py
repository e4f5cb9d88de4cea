"""Prompt files: CSV or TXT.

TXT holds one prompt per line. CSV holds one prompt per row, either headerless (first column =
prompt, optional second column = label) or with a header naming a prompt column (``prompt``,
``prompts``, ``caption`` or ``text``, any case) and an optional ``label`` column; other columns
are ignored (DrawBench's ``Category``, Pick-a-Pic's Chinese caption).

The reader never guesses: what it cannot read unambiguously is a ``PromptFileError`` that names
the file, the line, what was found and the fix, and nothing of the file is used. What it does
normalise, and nothing else:

- a UTF-8 byte order mark is dropped; CRLF line endings read as LF;
- lines end at LF only (in TXT too: a vertical tab, form feed, U+0085, U+2028 or U+2029 inside
  a line does not split it);
- blank rows are dropped, and so are blank cells at the end of a CSV row (a trailing comma);
- every run of whitespace in a prompt (tabs, the characters above, the line breaks of a quoted
  multi-line CSV prompt) becomes one space, and the prompt is stripped
  (``gn_models.data.prompt_rows.normalise_prompt``);
- duplicates (after normalisation) keep their first occurrence and its label; order of first
  occurrence is kept.

Refused, each naming the line: a NUL byte (usually a UTF-16 file), any other control character
that is not whitespace, a carriage return that does not end a line, a prompt longer than
``MAX_PROMPT_CHARS``, a CSV row with more fields than the header (or than prompt, label without
one; the usual cause is an unquoted comma in a prompt), a CSV quote that is never closed or is
followed by text, and a quoted CSV prompt that runs over several lines whose later lines hold
a comma: that is what a quote left open looks like once it has swallowed the rows below it (a
multi-line prompt without such commas is read as one line). Python's ``csv`` module in strict
mode is the parser: ``pandas.read_csv`` would take a lone carriage return for a line break and
accept text after a closing quote, both silently.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path
from typing import NamedTuple

from gn_models.data.prompt_rows import (
    PromptFileError,
    deduplicate_prompts,
    normalise_prompt,
    parse_label,
)
from gn_models.types import Prompt

PROMPT_COLUMNS = ("prompt", "prompts", "caption", "text")
LABEL_COLUMN = "label"
MAX_PROMPT_CHARS = 10_000
"""The longest prompt read, in characters: far above any text encoder's context (CLIP reads 77
tokens, the T5 encoders of SD3 and FLUX 256 to 512: a few thousand characters at most); a
longer one is a mistake (a whole file on one line), not a prompt."""

# Control characters (Unicode category Cc) that are not whitespace, and a carriage return that
# is left once CRLF has become LF. Whitespace controls (tab, VT, FF, U+001C-U+001F, U+0085)
# are normalised like spaces.
_REFUSED_CHARS = re.compile(r"[\x00-\x08\r\x0e-\x1b\x7f-\x84\x86-\x9f]")
_COMMA_FIX = (
    'quote the prompt ("a cat, sitting"; a quote inside it doubled: ""), or use a .txt file '
    "(one prompt per line, no quoting)"
)

Row = tuple[int, str, int | None]  # line number, prompt text, label


def read_prompt_file(path: str | Path, allow_empty: bool = False) -> list[Prompt]:
    """Read, normalise and de-duplicate the prompts of a CSV or TXT file.

    Blank rows are dropped; duplicates (after whitespace normalisation) keep their first
    occurrence and its label. Order of first occurrence is kept. The module docstring lists
    every normalisation.

    Args:
        allow_empty: return [] for a file without prompts (a shard file of a directory
            source whose prompts were all deleted) instead of raising.

    Raises:
        PromptFileError: the only error, its message naming the file and, where there is one,
            the line. The path is missing, a directory or unreadable; the file is not valid
            UTF-8 (the byte and its offset are named); it holds a NUL byte, another control
            character that is not whitespace, or a carriage return that does not end a line;
            a prompt is longer than ``MAX_PROMPT_CHARS``; a CSV row cannot be parsed (a quote
            never closed or followed by text), has more fields than the header (or than
            prompt, label in a headerless file), or has a non-integer label; a quoted CSV
            prompt spans lines that look like swallowed rows (a quote left open); a CSV header
            has a label but no prompt column (the columns found are named); the file holds no
            prompt at all (unless ``allow_empty``).
    """
    path = Path(path)
    if path.is_dir():
        raise PromptFileError(
            f"Prompt source {path} is a directory; this source takes one CSV or TXT file. "
            "(Training prompts may be a directory: one shard per file.)"
        )
    if not path.is_file():
        raise PromptFileError(
            f"Prompt file {path} does not exist. Point the prompt source at an existing "
            "CSV or TXT file (one prompt per row), or at a Hugging Face dataset with "
            "hf:<dataset>?split=<split>&column=<column>."
        )
    text = _check_characters(_decode(path), path)
    header = None
    if path.suffix.lower() == ".csv":
        rows, header = _parse_csv(text, path)
    else:
        rows = [(n, line, None) for n, line in enumerate(text.split("\n"), start=1)]
    _check_lengths(rows, path)
    prompts = deduplicate_prompts([(prompt, label) for _, prompt, label in rows])
    if not prompts and not allow_empty:
        found = (
            f"a header row {header} was found but no prompt in the rows below it"
            if header
            else "it is empty or only blank rows"
        )
        raise PromptFileError(
            f"Prompt file {path} holds no prompt ({found}). Add at least one prompt, one per row."
        )
    return prompts


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise PromptFileError(f"Prompt file {path} cannot be read: {err.strerror}.") from err
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        note, encoding = ("; it starts like a UTF-16 file", "utf-16") if utf16 else ("", "latin1")
        raise PromptFileError(
            f"Prompt file {path} is not valid UTF-8: byte 0x{raw[err.start]:02x} at offset "
            f"{err.start} (line {line}){note}. Re-save the file as UTF-8 (for example "
            f"`iconv -f {encoding} -t utf-8 {path.name}`); nothing was read from it."
        ) from err


def _check_characters(text: str, path: Path) -> str:
    """``text`` with CRLF read as LF, after refusing the characters no prompt file holds."""
    text = text.replace("\r\n", "\n")
    found = _REFUSED_CHARS.search(text)
    if found is None:
        return text
    char = found.group()
    if char == "\0":
        what = (
            "a NUL byte: the file is probably UTF-16 (as Windows Notepad and PowerShell save "
            f"text). Re-save it as UTF-8 (for example `iconv -f utf-16 -t utf-8 {path.name}`)"
        )
    elif char == "\r":
        what = (
            "a carriage return (\\r) that does not end the line, usually left by editing a "
            "Windows (CRLF) file: convert its line endings (for example `dos2unix`)"
        )
    else:
        what = f"the control character U+{ord(char):04X}, which no prompt holds: remove it"
    line = text.count("\n", 0, found.start()) + 1
    raise PromptFileError(
        f"Prompt file {path}, line {line} holds {what}; nothing was read from it."
    )


def _check_lengths(rows: list[Row], path: Path) -> None:
    for line, prompt, _ in rows:
        if len(prompt) > MAX_PROMPT_CHARS:
            raise PromptFileError(
                f"Prompt file {path}, line {line} holds a prompt of {len(prompt)} characters; "
                f"a prompt holds at most {MAX_PROMPT_CHARS} (far above any text encoder's "
                "context). Split the line into prompts or shorten it; nothing was read from it."
            )


def _csv_records(text: str, path: Path) -> list[tuple[int, list[str]]]:
    """(first line, cells) of each non-blank row of a CSV text, trailing blank cells dropped.

    Raises:
        PromptFileError: the csv module (strict) cannot parse a row; the message names the line
            where the row starts and, for a row over several lines, where reading stopped.
    """
    reader = csv.reader(io.StringIO(text), strict=True)
    records, start = [], 1
    try:
        for cells in reader:
            while cells and not cells[-1].strip():
                cells.pop()
            if cells:
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as err:
        raise _csv_error(path, start, reader.line_num, err) from err
    return records


def _csv_error(path: Path, start: int, end: int, err: csv.Error) -> PromptFileError:
    """The error for a CSV row from line ``start`` that the csv module stopped at line ``end``."""
    if "field limit" in str(err):
        fix = f"A prompt holds at most {MAX_PROMPT_CHARS} characters: split or shorten the line"
    else:
        fix = (
            "Every quote must close, at a comma or the end of the field's line; a quote inside "
            'a quoted field is doubled (""); or use a .txt file (one prompt per line, no '
            "quoting)"
        )
    left_open = ""
    if end > start:
        left_open = (
            f"The row runs on to line {end}: a quote opened on line {start} is probably never "
            "closed. "
        )
    return PromptFileError(
        f"Prompt file {path}, line {start} cannot be read as CSV ({err}). {left_open}{fix}; "
        "nothing was read from it."
    )


class _Layout(NamedTuple):
    """Where a CSV file keeps its prompts and labels."""

    prompt_col: int
    label_col: int | None
    width: int  # the most fields a row may have
    width_note: str  # where ``width`` comes from, for the error


def _parse_csv(text: str, path: Path) -> tuple[list[Row], list[str] | None]:
    """The rows of a CSV text and its header row (None for a headerless file)."""
    records = _csv_records(text, path)
    if not records:
        return [], None
    found = records[0][1]
    header = [normalise_prompt(cell).lower() for cell in found]
    prompt_col = next((header.index(c) for c in PROMPT_COLUMNS if c in header), None)
    if prompt_col is None and LABEL_COLUMN in header:
        raise PromptFileError(
            f"Prompt file {path}: the header row names the columns {found} but none of "
            f"the prompt columns {list(PROMPT_COLUMNS)} (any case). Rename the prompt column, "
            "or drop the header row for a headerless file (prompt, [label])."
        )
    if prompt_col is None:  # headerless: prompt, [label]
        layout = _Layout(0, 1, 2, "a headerless file has at most 2 (prompt, label)")
        return [_csv_row(path, line, cells, layout) for line, cells in records], None
    label_col = header.index(LABEL_COLUMN) if LABEL_COLUMN in header else None
    layout = _Layout(prompt_col, label_col, len(found), f"the header has {len(found)}")
    return [_csv_row(path, line, cells, layout) for line, cells in records[1:]], found


def _csv_row(path: Path, line: int, cells: list[str], layout: _Layout) -> Row:
    """One CSV row as (line, prompt, label), after checking its field count and quoting."""
    if len(cells) > layout.width:
        raise PromptFileError(
            f"Prompt file {path}, line {line} has {len(cells)} fields but {layout.width_note}: "
            f"an unquoted comma cuts a prompt there. Either {_COMMA_FIX}; nothing was read "
            "from it."
        )
    prompt = _cell(cells, layout.prompt_col)
    if "," in prompt.partition("\n")[2]:
        raise PromptFileError(
            f"Prompt file {path}, line {line}: a quoted prompt runs over "
            f"{prompt.count(chr(10)) + 1} lines and its later lines hold commas, as the rows "
            f"below a quote left open do. Close the quote opened on line {line}, or put the "
            "prompt on one line; nothing was read from it."
        )
    hint = ""
    if layout.label_col is not None and layout.label_col > layout.prompt_col:
        hint = f"An unquoted comma in the prompt moves the rest of it into the label: {_COMMA_FIX}."
    label = parse_label(_cell(cells, layout.label_col), f"Prompt file {path}, line {line}", hint)
    return line, prompt, label


def _cell(cells: list[str], col: int | None) -> str:
    return cells[col] if col is not None and col < len(cells) else ""
