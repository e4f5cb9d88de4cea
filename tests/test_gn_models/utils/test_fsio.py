"""File artifacts on any filesystem: a table is published whole or not at all."""

import errno

import pandas as pd
import pytest

from gn_models.utils import fsio
from gn_models.utils.tables import read_parquet


def _listing(url: str) -> list[str]:
    fs, path = fsio.url_to_fs(url)
    return sorted(p.rpartition("/")[2] for p in fs.find(path)) if fs.exists(path) else []


def test_staged_file_replaces_the_previous_file_whole(store_root):
    url = fsio.join(store_root, "scores", "scores.parquet")
    for x in (1, 2):
        with fsio.staged_file(url) as tmp:
            pd.DataFrame({"x": [x]}).to_parquet(tmp)
    assert read_parquet(url)["x"].tolist() == [2]
    assert _listing(store_root) == ["scores.parquet"]  # no staging leftovers


@pytest.mark.parametrize(
    "fault", [RuntimeError("crash mid-write"), OSError(errno.ENOSPC, "No space left on device")]
)
def test_failed_write_keeps_the_previous_file(store_root, fault):
    url = fsio.join(store_root, "scores.parquet")
    with fsio.staged_file(url) as tmp:
        pd.DataFrame({"x": [1]}).to_parquet(tmp)
    with pytest.raises(type(fault)), fsio.staged_file(url) as tmp:
        pd.DataFrame({"x": [2]}).to_parquet(tmp)
        raise fault
    assert read_parquet(url)["x"].tolist() == [1]
    assert _listing(store_root) == ["scores.parquet"]


def test_local_paths_stay_local(tmp_path):
    assert fsio.is_local(tmp_path) and not fsio.is_local("memory://x")
    assert fsio.download(tmp_path / "a") == tmp_path / "a"
    with pytest.raises(FileNotFoundError, match="materialize"):
        fsio.download("memory://does-not-exist/x")
