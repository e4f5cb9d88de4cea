"""Prompt rows as every prompt source gives them: normalisation, labels, de-duplication and
the error type for a bad source. Shared by prompt files and Hugging Face datasets."""

from __future__ import annotations

import math
import re

from gn_models.types import Prompt


class PromptFileError(ValueError):
    """A prompt file is missing, empty, not UTF-8 or malformed. The message names the file."""


def normalise_prompt(text: str) -> str:
    """Collapse runs of whitespace (including newlines and tabs) to one space and strip."""
    return re.sub(r"\s+", " ", text).strip()


def parse_label(value: object, where: str, hint: str = "") -> int | None:
    """An integer label from a cell: a string (CSV), or an int, float or None (a dataset).

    Blank, None and NaN give None; a whole float (7.0, as pandas stores an int column with
    gaps) gives its int. ``where`` names the row for the error, e.g. ``"Prompt file p.csv,
    line 3"``; ``hint``, when given, ends the error message (a likely cause and its fix).
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
            f"Use integer labels or leave the label column empty. {hint}".rstrip()
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
