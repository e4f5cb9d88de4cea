"""Tables on storage: a parquet file appears complete or not at all."""

from __future__ import annotations

import pandas as pd

from gn_models.utils.digest import digest_tree
from gn_models.utils.fsio import staged_write


def write_parquet(frame: pd.DataFrame, url: str) -> str:
    """Write ``frame`` (without its index) to a local path or fsspec URL, staged then
    published (see ``gn_models.utils.fsio.staged_write``). Returns the file's digest."""
    with staged_write(url) as tmp:
        frame.to_parquet(tmp, index=False)
        return digest_tree(tmp)
