"""Artifact locations as fsspec URLs: a local path, ``memory://``, ``s3://``, ``gs://``, ...

Every artifact is written to a local staging folder first and then published: on a local
filesystem by a rename (atomic), elsewhere by uploading to a ``.partial-<id>`` sibling and
moving it onto the final name, so a reader never sees a half-written artifact under its final
name. Readers that need local files (diffusers ``from_pretrained``, safetensors, PNGs) get a
local copy from ``localize``; pandas and zarr read URLs directly.
"""

from __future__ import annotations

import atexit
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


def replace(source: str, destination: str) -> None:
    """Move ``source`` onto ``destination`` (file or folder), retiring the previous content.

    Atomic on a local filesystem (one rename); on object stores a move is a copy plus delete,
    so the ``.partial`` name of ``source`` is what keeps half-written data from being read.
    """
    fs, src = url_to_fs(source)
    dst = url_to_fs(destination)[1]
    retired = f"{dst}.retired-{uuid.uuid4().hex[:8]}"
    if fs.exists(dst):
        fs.mv(dst, retired, recursive=True)
    fs.mv(src, dst, recursive=True)
    if fs.exists(retired):
        fs.rm(retired, recursive=True)


def partial_sibling(url: str) -> str:
    """A fresh ``<dir>/.<name>.partial-<id>`` URL next to ``url``."""
    parent, _, name = str(url).rstrip("/").rpartition("/")
    return f"{parent}/.{name}.partial-{uuid.uuid4().hex[:8]}"


@contextmanager
def staged_write(url: str | Path):
    """Yield a local path to write a file or folder to; on success publish it at ``url``.

    On error nothing is published and ``url`` keeps its previous content.
    """
    url = str(url)
    fs, path = url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(url_to_fs(partial_sibling(path))[1])
        try:
            yield tmp
            replace(str(tmp), path)
        finally:
            remove(tmp)
        return
    stage = Path(tempfile.mkdtemp(prefix="gn-stage-"))
    partial = partial_sibling(url)
    try:
        yield stage / "artifact"
        local = stage / "artifact"
        fs.put(str(local), url_to_fs(partial)[1], recursive=local.is_dir())
        replace(partial, url)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        remove(partial)


def localize(url: str | Path) -> Path:
    """A local path holding the file or folder at ``url``: the path itself when local, else a
    copy downloaded into a temporary folder (removed when the process exits).

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
