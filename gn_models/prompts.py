"""Prompt files: parsing, normalisation and stable sharding.

A prompt file is CSV or TXT. TXT holds one prompt per line. CSV holds one prompt per row,
either headerless (first column = prompt, optional second column = label) or with a header
naming a prompt column (``prompt``, ``prompts``, ``caption`` or ``text``, any case) and an
optional ``label`` column; other columns are ignored (DrawBench's ``Category``, Pick-a-Pic's
Chinese caption). A UTF-8 byte order mark is accepted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

PROMPT_COLUMNS = ("prompt", "prompts", "caption", "text")
LABEL_COLUMN = "label"


class PromptFileError(ValueError):
    """A prompt file is missing, empty, not UTF-8 or malformed. The message names the file."""


@dataclass(frozen=True)
class Prompt:
    """One normalised prompt.

    Attributes:
        text: whitespace-normalised prompt text.
        label: optional integer class label (the digit, on the digits profile), else None.
    """

    text: str
    label: int | None = None


def normalise_prompt(text: str) -> str:
    """Collapse runs of whitespace (including newlines and tabs) to one space and strip."""
    return re.sub(r"\s+", " ", text).strip()


def shard_of(text: str, num_shards: int) -> int:
    """Stable shard index in [0, num_shards) from the SHA-1 of the normalised prompt text.

    Stable across processes and Python versions (unlike ``hash``), so editing one prompt moves
    only that prompt, and the shards of all other prompts stay the same.
    """
    digest = hashlib.sha1(normalise_prompt(text).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % num_shards


def prompt_seed(text: str, index: int) -> int:
    """Stable 63-bit seed for the ``index``-th noise sample of a prompt (deterministic x_T)."""
    digest = hashlib.sha1(f"{normalise_prompt(text)}\x00{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def read_prompt_file(path: str | Path) -> list[Prompt]:
    """Read, normalise and de-duplicate the prompts of a CSV or TXT file.

    Blank rows are dropped; duplicates (after whitespace normalisation) keep their first
    occurrence and its label. Order of first occurrence is kept.

    Raises:
        PromptFileError: the file is missing, is not valid UTF-8 (the message gives the line
            and byte offset), has a non-integer label, or holds no prompt at all.
    """
    path = Path(path)
    if not path.is_file():
        raise PromptFileError(
            f"Prompt file {path} does not exist. Point the prompt source at an existing "
            "CSV or TXT file (one prompt per row)."
        )
    text = _decode(path)
    rows = _parse_csv(text, path) if path.suffix.lower() == ".csv" else _parse_txt(text)
    prompts = _deduplicate(rows)
    if not prompts:
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


def _parse_csv(text: str, path: Path) -> list[tuple[str, int | None]]:
    records = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not records:
        return []
    header = [normalise_prompt(cell).lower() for cell in records[0]]
    prompt_col = next((header.index(c) for c in PROMPT_COLUMNS if c in header), None)
    if prompt_col is None:  # headerless: prompt, [label]
        prompt_col, label_col, body = 0, (1 if len(header) > 1 else None), records
    else:
        label_col = header.index(LABEL_COLUMN) if LABEL_COLUMN in header else None
        body = records[1:]
    rows = []
    for line_no, record in enumerate(body, start=2 if body is not records else 1):
        cell = record[prompt_col] if prompt_col < len(record) else ""
        label = record[label_col] if label_col is not None and label_col < len(record) else ""
        rows.append((cell, _parse_label(label, path, line_no)))
    return rows


def _parse_label(value: str, path: Path, line_no: int) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise PromptFileError(
            f"Prompt file {path}, row {line_no}: label {value!r} is not an integer. "
            "Use integer labels or leave the label column empty."
        ) from None


def _deduplicate(rows: list[tuple[str, int | None]]) -> list[Prompt]:
    seen: dict[str, Prompt] = {}
    for text, label in rows:
        text = normalise_prompt(text)
        if text and text not in seen:
            seen[text] = Prompt(text, label)
    return list(seen.values())
