"""Prompt sources: parsing, normalisation and stable sharding.

``read_prompts(source)`` is the one entry point. A source is a prompt file (CSV or TXT, below)
or a Hugging Face dataset spec starting with ``hf:`` (grammar and examples in
``gn_models.prompt_datasets``). Both give the same normalised, de-duplicated ``Prompt`` list.

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
import math
import re
from dataclasses import dataclass
from pathlib import Path

PROMPT_COLUMNS = ("prompt", "prompts", "caption", "text")
LABEL_COLUMN = "label"
HF_PREFIX = "hf:"  # a prompt source starting with this is a Hugging Face dataset spec


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


def read_prompts(source: str | Path) -> list[Prompt]:
    """Read, normalise and de-duplicate the prompts of a prompt source.

    Args:
        source: a CSV or TXT path (see ``read_prompt_file``), or a Hugging Face dataset spec
            ``hf:<dataset>?split=<split>&column=<caption column>[&config=..][&label=..]
            [&limit=..][&cache_dir=..]`` (see ``gn_models.prompt_datasets``). Examples::

                /work/shared/data/prompts/drawbench.csv
                prompts/train.txt
                hf:yuvalkirstain/pickapic_v1_no_images?split=test&column=caption
                hf:/data/parti-prompts?split=train&column=Prompt&limit=100

    Raises:
        PromptFileError: the source cannot be read or holds no prompt; the message says what
            to do (for a Hub dataset that is not cached: which command fetches it).
    """
    if isinstance(source, str) and source.startswith(HF_PREFIX):
        from gn_models.prompt_datasets import read_dataset_prompts  # imports `datasets` (slow)

        return read_dataset_prompts(source)
    return read_prompt_file(source)


def read_prompt_file(path: str | Path, allow_empty: bool = False) -> list[Prompt]:
    """Read, normalise and de-duplicate the prompts of a CSV or TXT file.

    Blank rows are dropped; duplicates (after whitespace normalisation) keep their first
    occurrence and its label. Order of first occurrence is kept.

    Args:
        allow_empty: return [] for a file without prompts (a shard file of a directory
            source whose prompts were all deleted) instead of raising.

    Raises:
        PromptFileError: the file is missing, is not valid UTF-8 (the message gives the line
            and byte offset), has a non-integer label, or holds no prompt at all (unless
            ``allow_empty``).
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
        rows.append((cell, parse_label(label, f"Prompt file {path}, row {line_no}")))
    return rows


def parse_label(value: object, where: str) -> int | None:
    """An integer label from a cell: a string (CSV), or an int, float or None (a dataset).

    Blank, None and NaN give None; a whole float (7.0, as pandas stores an int column with
    gaps) gives its int. ``where`` names the row for the error, e.g. ``"Prompt file p.csv,
    row 3"``.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise PromptFileError(
            f"{where}: label {text!r} is not an integer. "
            "Use integer labels or leave the label column empty."
        ) from None


def deduplicate_prompts(rows: list[tuple[str, int | None]]) -> list[Prompt]:
    """Normalise ``(text, label)`` rows into prompts: blank texts dropped, duplicates (after
    normalisation) keep their first occurrence and its label, order of first occurrence kept."""
    seen: dict[str, Prompt] = {}
    for text, label in rows:
        text = normalise_prompt(text)
        if text and text not in seen:
            seen[text] = Prompt(text, label)
    return list(seen.values())
