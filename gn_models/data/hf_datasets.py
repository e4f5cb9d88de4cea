"""Prompt sets from Hugging Face datasets: the ``hf:`` prompt source.

Spec grammar (one string, so it fits wherever a prompt file path fits)::

    hf:<dataset>?split=<split>&column=<caption column>
        [&config=<config name>][&label=<label column>][&limit=<n>][&cache_dir=<dir>]

- ``<dataset>``: a Hub dataset name (``owner/name``) or a local dataset directory (any layout
  ``datasets.load_dataset`` reads: parquet, csv, json or arrow files, a ``hf download``
  snapshot, ...). An existing directory wins over a Hub name of the same spelling.
- ``split`` (required): a split name, slices included (``test``, ``train[:1000]``).
- ``column`` (required): the column holding the prompt text.
- ``config``: the dataset configuration (``load_dataset``'s ``name``).
- ``label``: a column of integer labels (blank or null -> no label).
- ``limit``: keep the first ``n`` prompts, counted after normalisation and de-duplication.
- ``cache_dir``: the datasets cache to read (default: ``HF_DATASETS_CACHE``, i.e.
  ``$HF_HOME/datasets``).
Values may be percent-encoded (``%26`` for ``&``).

Examples::

    hf:yuvalkirstain/pickapic_v1_no_images?split=test&column=caption
    hf:nateraw/parti-prompts?split=train&column=Prompt&limit=200
    hf:/data/pickapic_v1_no_images?split=test&column=caption      # a `hf download` snapshot
    hf:./prompts_ds?split=train&column=text&label=digit&cache_dir=/scratch/hf

Hub datasets are read from the local cache only: the Hub is never contacted, whatever
``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` say, so a run never downloads, waits on retries or
changes with the Hub. A dataset that is not cached raises ``DatasetNotCachedError`` with the
command that fetches it. Rows are normalised and de-duplicated exactly like a prompt file
(``gn_models.data.prompt_rows.deduplicate_prompts``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from gn_models.data.prompt_rows import PromptFileError, deduplicate_prompts, parse_label
from gn_models.types import Prompt

HF_PREFIX = "hf:"  # a prompt source starting with this is a Hugging Face dataset spec
REQUIRED_KEYS = ("split", "column")
OPTIONAL_KEYS = ("config", "label", "limit", "cache_dir")
EXAMPLE_SPEC = "hf:yuvalkirstain/pickapic_v1_no_images?split=test&column=caption"


class DatasetNotCachedError(PromptFileError):
    """A Hub dataset named by an ``hf:`` spec is not in the local datasets cache.

    The message gives the command that fetches it on a machine with internet.
    """


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed ``hf:`` prompt source (see the module docstring for the grammar).

    Attributes:
        source: the spec as given, for messages.
        dataset: Hub name (``owner/name``) or local dataset directory.
        split: split to load, slices allowed (``train[:1000]``).
        column: column holding the prompt text.
        config: dataset configuration name, or None for the default.
        label: column of integer labels, or None.
        limit: keep at most this many prompts (after de-duplication), or None for all.
        cache_dir: datasets cache to read, or None for ``HF_DATASETS_CACHE``.
    """

    source: str
    dataset: str
    split: str
    column: str
    config: str | None = None
    label: str | None = None
    limit: int | None = None
    cache_dir: str | None = None

    @property
    def is_local(self) -> bool:
        """True when ``dataset`` names an existing local directory or file."""
        return Path(self.dataset).expanduser().exists()

    def fetch_command(self) -> str:
        """The ``python -c`` line that puts this dataset in the cache (needs internet)."""
        args = [repr(self.dataset)]
        if self.config is not None:
            args.append(repr(self.config))
        args.append(f"split={self.split!r}")
        if self.cache_dir is not None:
            args.append(f"cache_dir={self.cache_dir!r}")
        return f'python -c "import datasets; datasets.load_dataset({", ".join(args)})"'


def parse_dataset_spec(source: str) -> DatasetSpec:
    """Parse ``hf:<dataset>?split=..&column=..[&config=..][&label=..][&limit=..][&cache_dir=..]``.

    >>> parse_dataset_spec("hf:owner/name?split=test&column=caption&limit=5").limit
    5

    Raises:
        PromptFileError: not an ``hf:`` spec, no dataset, a required key missing, an unknown
            or repeated key, an empty value, or a ``limit`` that is not a positive integer.
    """
    if not source.startswith(HF_PREFIX):
        raise PromptFileError(f"{source!r} is not a dataset spec: it must start with 'hf:'.")
    dataset, _, query = source[len(HF_PREFIX) :].partition("?")
    usage = f"Write it as hf:<dataset>?split=<split>&column=<column>, e.g. {EXAMPLE_SPEC}"
    if not dataset:
        raise PromptFileError(f"Dataset spec {source!r} names no dataset. {usage}.")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise PromptFileError(
            f"Dataset spec {source!r}: {query!r} is not a list of key=value pairs joined by "
            f"'&'. {usage}."
        ) from None
    keys = [key for key, _ in pairs]
    unknown = [key for key in keys if key not in REQUIRED_KEYS + OPTIONAL_KEYS]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    missing = [key for key in REQUIRED_KEYS if key not in keys]
    empty = [key for key, value in pairs if not value.strip()]
    for problem, names in (
        ("unknown key", unknown),
        ("repeated key", repeated),
        ("missing required key", missing),
        ("empty value for", empty),
    ):
        if names:
            raise PromptFileError(
                f"Dataset spec {source!r}: {problem} {', '.join(names)}. Keys: "
                f"{', '.join(REQUIRED_KEYS)} (required), {', '.join(OPTIONAL_KEYS)}. {usage}."
            )
    values = {key: value.strip() for key, value in pairs}
    limit = values.get("limit")
    if limit is not None and not (limit.isdigit() and int(limit) > 0):
        raise PromptFileError(
            f"Dataset spec {source!r}: limit={limit!r} is not a positive integer. "
            "Give the number of prompts to keep, e.g. limit=100, or leave limit out."
        )
    return DatasetSpec(
        source=source,
        dataset=dataset,
        split=values["split"],
        column=values["column"],
        config=values.get("config"),
        label=values.get("label"),
        limit=None if limit is None else int(limit),
        cache_dir=values.get("cache_dir"),
    )


def read_dataset_prompts(source: str) -> list[Prompt]:
    """Read, normalise and de-duplicate the prompts of an ``hf:`` dataset spec.

    Use ``gn_models.data.prompt_source.read_prompts``, which also takes prompt files; this is its
    dataset half. Null and blank captions are dropped; duplicates keep their first occurrence
    and its label; ``limit`` then keeps the first ``n``.

    Raises:
        DatasetNotCachedError: a Hub dataset is not in the cache (message: how to fetch it).
        PromptFileError: a bad spec, a local directory that does not exist, a split, config or
            column the dataset lacks (the message lists what it has), a non-text caption, a
            non-integer label, or no prompt at all.
    """
    spec = parse_dataset_spec(source)
    dataset = _load(spec)  # datasets.Dataset
    for role, name in (("column", spec.column), ("label", spec.label)):
        if name is not None and name not in dataset.column_names:
            raise PromptFileError(
                f"Dataset spec {spec.source!r}: {role}={name!r} is not a column of "
                f"{spec.dataset} (split {spec.split!r}). Its columns are: "
                f"{', '.join(dataset.column_names)}. Set {role}= to one of them."
            )
    texts = dataset[spec.column]
    labels = dataset[spec.label] if spec.label is not None else [None] * len(dataset)
    rows = []
    for index, (text, label) in enumerate(zip(texts, labels, strict=True)):
        where = f"Dataset spec {spec.source!r}, row {index}"
        if text is not None and not isinstance(text, str):
            raise PromptFileError(
                f"{where}: column {spec.column!r} holds {type(text).__name__} values, not text. "
                f"Set column= to the caption column (columns: {', '.join(dataset.column_names)})."
            )
        rows.append((text or "", parse_label(label, where)))
    prompts = deduplicate_prompts(rows)[: spec.limit]
    if not prompts:
        raise PromptFileError(
            f"Dataset spec {spec.source!r} holds no prompt: split {spec.split!r} has "
            f"{len(dataset)} rows and column {spec.column!r} is blank in all of them. "
            "Pick another split or column."
        )
    return prompts


def _load(spec: DatasetSpec):
    """``datasets.load_dataset`` for the spec, from the cache or a local directory only."""
    import datasets  # slow to import: only when a dataset source is read

    if not spec.is_local and _looks_like_path(spec.dataset):
        raise PromptFileError(
            f"Dataset spec {spec.source!r}: the dataset directory {spec.dataset} does not exist. "
            "Point hf: at an existing dataset directory or at a Hub name (owner/name)."
        )
    try:
        with _hub_offline():
            return datasets.load_dataset(
                spec.dataset, spec.config, split=spec.split, cache_dir=spec.cache_dir
            )
    except (ValueError, OSError, datasets.exceptions.DatasetsError) as err:
        if isinstance(err, ConnectionError) and not spec.is_local:  # offline, not cached
            raise DatasetNotCachedError(_not_cached_message(spec, datasets.config)) from err
        # unknown split or config (the message lists the known ones), unreadable files, ...
        raise PromptFileError(f"Dataset spec {spec.source!r} could not be loaded: {err}") from err


@contextlib.contextmanager
def _hub_offline() -> Iterator[None]:
    """Hub names resolve from the cache only, as with ``HF_DATASETS_OFFLINE=1``.

    ``datasets`` reads the offline switch once, when it is imported; setting it for this call
    makes the result independent of the environment and of import order, and an uncached
    dataset fails at once instead of after about 20 s of connection retries.
    """
    import datasets.config

    before = datasets.config.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE = before


def _looks_like_path(name: str) -> bool:
    """A Hub name is ``name`` or ``owner/name``; anything else must be a local path."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def _not_cached_message(spec: DatasetSpec, config) -> str:
    cache = spec.cache_dir or config.HF_DATASETS_CACHE
    what = f"{spec.dataset!r}" + (f" (config {spec.config!r})" if spec.config else "")
    return (
        f"Dataset spec {spec.source!r}: the Hugging Face dataset {what} split "
        f"{spec.split!r} is not in the datasets cache {cache}, and prompt sources never "
        "download at run time. Fetch it once, on a machine with internet and the same "
        "HF_HOME / HF_DATASETS_CACHE (or copy that cache here afterwards):\n"
        f"    {spec.fetch_command()}\n"
        "After that it is read from the cache offline (as with HF_DATASETS_OFFLINE=1). "
        "Or download the raw files and point the spec at the folder:\n"
        f"    hf download --repo-type dataset {spec.dataset} --local-dir <dir>"
        "   # `huggingface-cli download` on huggingface_hub < 1.0\n"
        f"    hf:<dir>?split={spec.split}&column={spec.column}"
    )
