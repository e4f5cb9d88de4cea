"""Atomic writes: a file or folder appears complete or not at all."""

from __future__ import annotations

import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import pandas as pd


@contextmanager
def atomic_path(final: Path):
    """Yield a temporary sibling path; on success move it onto ``final`` (file or folder).

    On error the temporary is removed and ``final`` keeps its previous content.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        retired = final.with_name(f".{final.name}.retired-{uuid.uuid4().hex[:8]}")
        if final.exists():
            final.rename(retired)
        tmp.rename(final)
        _remove(retired)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
