"""Prompt shards: how a prompt source splits into shards, and the content version of a shard.

Two layouts, chosen by what the source is:

- a **file** (CSV or TXT) or a Hugging Face dataset spec: a fixed number of *hash shards*
  ``shard-00``, ``shard-01``, ... A prompt's shard is ``shard_of`` its text, so editing,
  adding or deleting one prompt changes exactly one shard (or two, when an edit moves the
  prompt to another shard).
- a **directory**: one shard per prompt file (``*.csv``, ``*.txt``) in it, keyed by the file
  name without its suffix (``batch-007.csv`` -> ``batch-007``). A corpus grows by adding
  files: a new file is a new shard and leaves every other shard as it was. A prompt that
  appears in several files belongs to the first file in name order.

A shard's version (``shard_version``) is a hash of its prompts and labels, independent of
row order and file format; the pipeline uses it as the shard's data version.

Keep the number of shards at most ``MAX_SHARDS`` (99): Dagster skips partition-level
staleness for a dependency with 100 or more upstream partitions.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from gn_models.data.hf_datasets import HF_PREFIX
from gn_models.data.prompt_files import read_prompt_file
from gn_models.data.prompt_rows import PromptFileError, normalise_prompt
from gn_models.data.prompt_source import read_prompts
from gn_models.types import Prompt

MAX_SHARDS = 99
PROMPT_SUFFIXES = (".csv", ".txt")
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")


def shard_of(text: str, num_shards: int) -> int:
    """Stable shard index in [0, num_shards) from the SHA-1 of the normalised prompt text.

    Stable across processes and Python versions (unlike ``hash``), so editing one prompt moves
    only that prompt, and the shards of all other prompts stay the same.
    """
    digest = hashlib.sha1(normalise_prompt(text).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % num_shards


def hash_shard_keys(num_shards: int) -> list[str]:
    """Keys of the hash shards of a file source: ``shard-00`` ... ``shard-{num_shards-1}``.

    Raises:
        ValueError: ``num_shards`` is outside 1..MAX_SHARDS.
    """
    if not 1 <= num_shards <= MAX_SHARDS:
        raise ValueError(
            f"{num_shards} shards: use 1..{MAX_SHARDS} (Dagster skips partition-level "
            "staleness at 100 or more partitions)."
        )
    return [f"shard-{i:02d}" for i in range(num_shards)]


def is_directory_source(source: str | Path) -> bool:
    """True when ``source`` is a local directory (one shard per prompt file)."""
    return not str(source).startswith(HF_PREFIX) and Path(source).is_dir()


def read_shards(source: str | Path, num_shards: int) -> dict[str, list[Prompt]]:
    """Every shard of ``source`` with its prompts (in the source's order).

    Args:
        source: a prompt file, a Hugging Face dataset spec (``hf:...``) or a directory of
            prompt files (see the module docstring).
        num_shards: the number of hash shards of a file or dataset source (ignored for a
            directory). Every hash shard is listed, empty ones too.

    Returns:
        shard key -> prompts; keys in sorted order.

    Raises:
        PromptFileError: the source is missing or unreadable, a directory holds no prompt
            file or more than MAX_SHARDS of them, or two files map to the same key.
        ValueError: ``num_shards`` is outside 1..MAX_SHARDS.
    """
    if not is_directory_source(source):
        keys = hash_shard_keys(num_shards)
        shards: dict[str, list[Prompt]] = {key: [] for key in keys}
        for prompt in read_prompts(source):
            shards[keys[shard_of(prompt.text, num_shards)]].append(prompt)
        return shards
    shards, seen = {}, set()
    for key, path in prompt_files(Path(source)).items():
        prompts = [p for p in read_prompt_file(path, allow_empty=True) if p.text not in seen]
        seen.update(p.text for p in prompts)
        shards[key] = prompts
    return shards


def prompt_files(directory: Path) -> dict[str, Path]:
    """Shard key -> prompt file of a directory source (sorted by key).

    Raises:
        PromptFileError: no prompt file, more than MAX_SHARDS, a file name that is not a valid
            shard key, or two files with the same key (``a.csv`` and ``a.txt``).
    """
    files = sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and p.suffix.lower() in PROMPT_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise PromptFileError(
            f"Prompt directory {directory} holds no prompt file. Add CSV or TXT files to it "
            "(one shard per file), or point the prompt source at a single file."
        )
    if len(files) > MAX_SHARDS:
        raise PromptFileError(
            f"Prompt directory {directory} holds {len(files)} prompt files, one shard each; "
            f"Dagster tracks staleness per shard only up to {MAX_SHARDS}. Merge files so "
            f"that at most {MAX_SHARDS} remain."
        )
    keys: dict[str, Path] = {}
    for path in files:
        key = path.stem
        if not _KEY_PATTERN.match(key):
            raise PromptFileError(
                f"Prompt file {path}: its name {key!r} is not a valid shard key (the shard's "
                "Dagster partition key). Rename it using ASCII letters, digits, '.', '_' and '-' "
                "only."
            )
        if key in keys:
            raise PromptFileError(
                f"Prompt files {keys[key]} and {path} map to the same shard {key!r}. Rename "
                "one of them."
            )
        keys[key] = path
    return keys


def shard_version(prompts: list[Prompt]) -> str:
    """Version of a shard's content: SHA-256 (16 hex digits) of its prompts and labels,
    independent of their order. An empty shard has a version too."""
    lines = sorted(f"{p.text}\t{'' if p.label is None else p.label}" for p in prompts)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def source_signature(source: str | Path) -> str | None:
    """A cheap fingerprint of a source: for files, their names, sizes and modification
    times; for a dataset spec, the spec itself (a cached dataset does not change under the
    same spec). Unchanged fingerprint means unchanged content, so a watcher can skip reading
    the source. None for a missing path (read it to get the error)."""
    if str(source).startswith(HF_PREFIX):
        return hashlib.sha256(str(source).encode()).hexdigest()[:16]
    path = Path(source)
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.suffix.lower() in PROMPT_SUFFIXES]
    elif path.is_file():
        files = [path]
    else:
        return None
    stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.is_file()]
    return hashlib.sha256(repr(stats).encode()).hexdigest()[:16]
