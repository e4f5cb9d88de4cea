"""Records of pretrained weights: a small JSON file that says which weights an asset verified,
so that a later step refuses to mix them with others."""

from __future__ import annotations

import json
from pathlib import Path


def write_record(path: Path, record: dict) -> None:
    """Write ``record`` as indented JSON at ``path`` (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2))


def check_record(path: Path, key: str, expected: str, asset: str) -> None:
    """Refuse to mix models: the record that ``asset`` wrote must name the configured one.

    Raises:
        FileNotFoundError: no record (materialize ``asset`` first).
        ValueError: the record's ``key`` differs from ``expected``.
    """
    if not path.is_file():
        raise FileNotFoundError(f"No {path.name} in {path.parent}: materialize `{asset}` first.")
    recorded = json.loads(path.read_text()).get(key)
    if recorded != expected:
        raise ValueError(
            f"`{asset}` was materialized with {key}={recorded!r}, but it is configured with "
            f"{key}={expected!r}. Rematerialize `{asset}` (and what depends on it) or set the "
            "configuration back."
        )
