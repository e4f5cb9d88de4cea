"""Prompt files: CSV or TXT.

TXT holds one prompt per line. CSV holds one prompt per row, either headerless (first column =
prompt, optional second column = label) or with a header naming a prompt column (``prompt``,
``prompts``, ``caption`` or ``text``, any case) and an optional ``label`` column; other columns
are ignored (DrawBench's ``Category``, Pick-a-Pic's Chinese caption). A UTF-8 byte order mark
is accepted. Rows are normalised and de-duplicated (``gn_models.data.prompt_rows``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from gn_models.data.prompt_rows import (
    PromptFileError,
    deduplicate_prompts,
    normalise_prompt,
    parse_label,
)
from gn_models.types import Prompt

PROMPT_COLUMNS = ("prompt", "prompts", "caption", "text")
LABEL_COLUMN = "label"


def read_prompt_file(path: str | Path, allow_empty: bool = False) -> list[Prompt]:
    """Read, normalise and de-duplicate the prompts of a CSV or TXT file.

    Blank rows are dropped; duplicates (after whitespace normalisation) keep their first
    occurrence and its label. Order of first occurrence is kept.

    Args:
        allow_empty: return [] for a file without prompts (a shard file of a directory
            source whose prompts were all deleted) instead of raising.

    Raises:
        PromptFileError: the file is missing, is not valid UTF-8 (the message gives the line
            and byte offset), is a CSV the csv module cannot parse (the line is named) or
            whose header has a label but no prompt column (the columns found are named), has
            a non-integer label, or holds no prompt at all (unless ``allow_empty``).
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
    text = _decode(path)
    rows = _parse_csv(text, path) if path.suffix.lower() == ".csv" else _parse_txt(text)
    prompts = deduplicate_prompts(rows)
    if not prompts and not allow_empty:
        raise PromptFileError(
            f"Prompt file {path} holds no prompt (it is empty or only blank rows). "
            "Add at least one prompt, one per row."
        )
    return prompts


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise PromptFileError(
            f"Prompt file {path} is not valid UTF-8: byte 0x{raw[err.start]:02x} at offset "
            f"{err.start} (line {line}). Re-save the file as UTF-8 (for example "
            f"`iconv -f latin1 -t utf-8 {path.name}`); nothing was read from it."
        ) from err


def _parse_txt(text: str) -> list[tuple[str, int | None]]:
    return [(line, None) for line in text.splitlines()]


def _csv_records(text: str, path: Path) -> list[list[str]]:
    """The non-blank rows of a CSV text.

    Raises:
        PromptFileError: the csv module cannot parse a line (e.g. a lone carriage return inside
            an unquoted field, left by editing a CRLF file); the message names the line.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        return [r for r in reader if any(cell.strip() for cell in r)]
    except csv.Error as err:
        raise PromptFileError(
            f"Prompt file {path}, line {reader.line_num} cannot be read as CSV ({err}). A lone "
            "carriage return (\\r) inside a line usually comes from editing a Windows (CRLF) "
            "file: convert its line endings (for example `dos2unix`) or quote the field; "
            "nothing was read from it."
        ) from err


def _parse_csv(text: str, path: Path) -> list[tuple[str, int | None]]:
    records = _csv_records(text, path)
    if not records:
        return []
    header = [normalise_prompt(cell).lower() for cell in records[0]]
    prompt_col = next((header.index(c) for c in PROMPT_COLUMNS if c in header), None)
    if prompt_col is None and LABEL_COLUMN in header:
        raise PromptFileError(
            f"Prompt file {path}: the header row names the columns {records[0]} but none of "
            f"the prompt columns {list(PROMPT_COLUMNS)} (any case). Rename the prompt column, "
            "or drop the header row for a headerless file (prompt, [label])."
        )
    if prompt_col is None:  # headerless: prompt, [label]
        prompt_col, label_col, body = 0, (1 if len(header) > 1 else None), records
    else:
        label_col = header.index(LABEL_COLUMN) if LABEL_COLUMN in header else None
        body = records[1:]
    rows = []
    for line_no, record in enumerate(body, start=2 if body is not records else 1):
        cell = record[prompt_col] if prompt_col < len(record) else ""
        label = record[label_col] if label_col is not None and label_col < len(record) else ""
        rows.append((cell, parse_label(label, f"Prompt file {path}, row {line_no}")))
    return rows
