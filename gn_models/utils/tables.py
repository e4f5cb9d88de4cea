"""Tables on storage: a parquet file appears complete or not at all."""

from __future__ import annotations

import pandas as pd

from gn_models.utils.digest import digest_tree
from gn_models.utils.fsio import staged_file, url_to_fs


def write_parquet(frame: pd.DataFrame, url: str) -> str:
    """Write ``frame`` (without its index) to a local path or fsspec URL, staged then
    published (see ``gn_models.utils.fsio.staged_file``). Returns the file's digest."""
    with staged_file(url) as tmp:
        frame.to_parquet(tmp, index=False)
        return digest_tree(tmp)


def read_parquet(url, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a parquet file at a local path or fsspec URL through fsspec, so an object store
    is reached as fsspec is configured (pandas would hand ``s3://`` to pyarrow's own S3
    client, which ignores fsspec's endpoint and credentials).

    Raises:
        FileNotFoundError: nothing at ``url``.
    """
    fs, path = url_to_fs(url)
    with fs.open(path, "rb") as f:
        return pd.read_parquet(f, columns=columns)
