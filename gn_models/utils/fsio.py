"""Artifact locations as fsspec URLs: a local path, ``memory://``, ``s3://``, ``gs://``, ...

A file artifact (a parquet table) is written to a staging file and published whole by
``staged_file``: locally by ``os.replace`` (atomic), elsewhere by one upload (an object-store
PUT replaces an object whole or not at all). Folder artifacts are versioned and published by
an atomic pointer write (``gn_models.utils.versions``). Readers that need local files get a
copy from ``download``; pandas and zarr read URLs directly.
"""

from __future__ import annotations

import atexit
import errno
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

_DOWNLOADS: list[str] = []


def url_to_fs(url: str | Path) -> tuple[fsspec.AbstractFileSystem, str]:
    """(filesystem, path inside it) for a URL or local path (relative paths made absolute)."""
    fs, path = fsspec.core.url_to_fs(str(url))
    return fs, path


def is_local(url: str | Path) -> bool:
    """True when ``url`` is on the local filesystem (a plain path or ``file://``)."""
    return isinstance(url_to_fs(url)[0], LocalFileSystem)


def join(url: str | Path, *parts: str) -> str:
    """``url`` joined with ``parts`` by '/', keeping the protocol (``memory://a`` + ``b``)."""
    return "/".join([str(url).rstrip("/"), *parts])


def exists(url: str | Path) -> bool:
    fs, path = url_to_fs(url)
    return fs.exists(path)


def remove(url: str | Path) -> None:
    """Delete a file or folder if it exists."""
    fs, path = url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def disk_full(err: OSError, url: str | Path) -> OSError | None:
    """A clear error for a full disk or exhausted quota while writing ``url`` (None for any
    other error)."""
    if err.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    return OSError(
        err.errno,
        f"No space left while writing {url} ({err.strerror}): nothing was published and the "
        "previous version is intact. Free space on that disk, or point the storage root "
        "(GN_STORAGE_ROOT) at a larger one, then rematerialize.",
    )


def partial_sibling(url: str) -> str:
    """A fresh ``<dir>/.<name>.partial-<id>`` URL next to ``url``."""
    parent, _, name = str(url).rstrip("/").rpartition("/")
    return f"{parent}/.{name}.partial-{uuid.uuid4().hex[:8]}"


@contextmanager
def staged_file(url: str | Path):
    """Yield a local path to write one file to; on success publish it whole at ``url``.

    On an error (a full disk included) or a kill, nothing is published and ``url`` keeps its
    previous content: locally the staging file is a hidden sibling replaced onto ``url`` by
    ``os.replace``; elsewhere it is uploaded with one PUT.
    """
    url = str(url)
    fs, path = url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(partial_sibling(path))
        try:
            yield tmp
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())  # the content is on disk before the name points at it
            os.replace(tmp, path)
        except OSError as err:
            raise disk_full(err, url) or err from err
        finally:
            tmp.unlink(missing_ok=True)
        return
    stage = Path(tempfile.mkdtemp(prefix="gn-stage-"))
    try:
        yield stage / "artifact"
        fs.put_file(str(stage / "artifact"), path)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def download(url: str | Path) -> Path:
    """A local path holding the file or folder at ``url``: the path itself when local, else a
    copy downloaded into a temporary folder (removed when the process exits). Folder
    artifacts are versioned: read them with ``gn_models.utils.versions.localize``.

    Raises:
        FileNotFoundError: nothing exists at ``url``.
    """
    fs, path = url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        return Path(path)
    if not fs.exists(path):
        raise FileNotFoundError(f"{url} does not exist; materialize the asset that writes it.")
    folder = tempfile.mkdtemp(prefix="gn-fetch-")
    _DOWNLOADS.append(folder)
    local = Path(folder) / path.rstrip("/").rpartition("/")[2]
    fs.get(path, str(local), recursive=fs.isdir(path))
    return local


@atexit.register
def _remove_downloads() -> None:
    for folder in _DOWNLOADS:
        shutil.rmtree(folder, ignore_errors=True)
