"""Versioned folders: a folder artifact is published in one atomic step on any filesystem.

A folder artifact at URL ``X`` (a checkpoint, a prepared model, an image set, one Zarr shard)
is laid out as::

    X/versions/<id>/...   immutable: one folder per write, never renamed or edited
    X/CURRENT             the pointer: JSON {"version": <id>, "previous": [<id>, ...]}

A write fills a fresh ``versions/<id>`` (no reader looks there), then replaces ``CURRENT``:
``os.replace`` of a fsynced file locally, a single PUT on an object store (an S3 object is
replaced whole or not at all). A kill or a full disk at any point leaves ``CURRENT`` naming
the previous complete version, or no ``CURRENT`` at all (the artifact is visibly absent); no
folder is ever moved, so nothing depends on a folder rename, which object stores do not have.
Writers of different artifacts never touch the same file, so they can run at the same time.

The newest ``KEEP_VERSIONS`` published versions are kept (``resolve(url, version=...)`` reads
an older one: the ``storage_version`` of its materialization); older ones are deleted when a
newer one is published. A version folder that was never published (its writer was killed) is
deleted by the next publish once older than ``ABANDONED_AFTER``. Two writers publishing the
same artifact at the same moment both complete and the last pointer wins; the list of older
versions is then best effort (one listed may have been pruned by the other writer).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fsspec.implementations.local import LocalFileSystem

from gn_models.utils.fsio import disk_full, download, join, remove, staged_file, url_to_fs

POINTER = "CURRENT"
VERSIONS = "versions"
KEEP_VERSIONS = 3
ABANDONED_AFTER = timedelta(days=1)
_ID_TIME = "%Y%m%dT%H%M%S%f"


def new_version_id() -> str:
    """A fresh version id: UTC write time (sortable) and a random suffix."""
    return f"{datetime.now(UTC).strftime(_ID_TIME)}-{uuid.uuid4().hex[:8]}"


def version_url(url: str | Path, version: str) -> str:
    """URL of version ``version`` of the folder artifact at ``url``."""
    return join(url, VERSIONS, version)


def read_pointer(url: str | Path) -> dict | None:
    """The pointer of the artifact at ``url``; None when it was never published."""
    fs, path = url_to_fs(join(url, POINTER))
    try:
        return json.loads(fs.cat_file(path))
    except FileNotFoundError:
        return None


def resolve(url: str | Path, version: str | None = None) -> str | None:
    """URL of the folder holding the artifact's content: ``version`` when given, else the
    current one; None when the artifact was never published (or ``version`` was deleted).

    A folder written before versioning (no ``CURRENT``, no ``versions/``) resolves to itself.
    """
    fs, path = url_to_fs(url)
    if version is not None:
        return (
            version_url(url, version)
            if fs.exists(url_to_fs(version_url(url, version))[1])
            else None
        )
    pointer = read_pointer(url)
    if pointer is not None:
        return version_url(url, pointer["version"])
    legacy = fs.isdir(path) and not fs.exists(url_to_fs(join(url, VERSIONS))[1])
    return str(url) if legacy else None


def publish(url: str | Path, version: str) -> None:
    """Make the complete folder ``versions/<version>`` the artifact's current content (one
    atomic pointer write), then delete versions beyond ``KEEP_VERSIONS`` and abandoned ones."""
    pointer = read_pointer(url)
    history = [pointer["version"], *pointer.get("previous", [])] if pointer else []
    history = [v for v in history if v != version]
    kept, dropped = history[: KEEP_VERSIONS - 1], history[KEEP_VERSIONS - 1 :]
    _write_pointer(url, {"version": version, "previous": kept})
    _prune(url, keep={version, *kept}, dropped=set(dropped))


def _write_pointer(url: str | Path, content: dict) -> None:
    """Replace the pointer whole (``staged_file``: a fsynced sibling renamed onto it locally,
    one PUT on an object store)."""
    with staged_file(join(url, POINTER)) as tmp:
        tmp.write_bytes(json.dumps(content, indent=1).encode())


def version_folders(url: str | Path) -> list[str]:
    """Ids of every version folder of the artifact at ``url``, published or not (sorted)."""
    fs, path = url_to_fs(join(url, VERSIONS))
    if not fs.exists(path):
        return []
    return sorted(p.rstrip("/").rpartition("/")[2] for p in fs.ls(path, detail=False))


def _prune(url: str | Path, keep: set[str], dropped: set[str]) -> None:
    cutoff = datetime.now(UTC) - ABANDONED_AFTER
    for name in version_folders(url):
        if name not in keep and (name in dropped or _written_at(name) < cutoff):
            remove(version_url(url, name))


def _written_at(version: str) -> datetime:
    try:
        return datetime.strptime(version.partition("-")[0], _ID_TIME).replace(tzinfo=UTC)
    except ValueError:  # not ours: never delete
        return datetime.max.replace(tzinfo=UTC)


@contextmanager
def new_version(url: str | Path):
    """Yield a fresh version id; write the version's folder at ``version_url(url, id)`` in the
    block. On success the version is published (``publish``); on an error it is removed and
    the previous version stays current. After a kill it is pruned later (module docstring).
    """
    version = new_version_id()
    try:
        yield version
        publish(url, version)
    except BaseException as err:
        if (read_pointer(url) or {}).get("version") != version:
            remove(version_url(url, version))
        if isinstance(err, OSError) and disk_full(err, url):
            raise disk_full(err, url) from err
        raise


@dataclass
class StagedFolder:
    """A folder being written: fill ``path`` (a local directory, created); ``version`` is the
    id it is published under."""

    path: Path
    version: str


@contextmanager
def staged_folder(url: str | Path):
    """Yield a ``StagedFolder`` to fill; on success publish it as the artifact's current
    version (``new_version``). Locally the folder is written in place under ``versions/``;
    elsewhere in a local temporary folder, uploaded before the pointer is written.
    """
    with new_version(url) as version:
        fs, target = url_to_fs(version_url(url, version))
        if isinstance(fs, LocalFileSystem):
            Path(target).mkdir(parents=True)
            yield StagedFolder(Path(target), version)
            return
        stage = Path(tempfile.mkdtemp(prefix="gn-stage-"))
        try:
            (stage / version).mkdir()
            yield StagedFolder(stage / version, version)
            fs.put(str(stage / version), target, recursive=True)
        finally:
            shutil.rmtree(stage, ignore_errors=True)


def current(url: str | Path, *parts: str) -> str:
    """URL of the current version of the folder artifact at ``url`` (joined with ``parts``,
    e.g. a file in it), for readers that take URLs (pandas, zarr).

    Raises:
        FileNotFoundError: the artifact was never published (see ``localize``).
    """
    resolved = resolve(url)
    if resolved is None:
        raise _never_published(url)
    return join(resolved, *parts)


def _never_published(url: str | Path, version: str | None = None) -> FileNotFoundError:
    which = f"version {version}" if version else "published version"
    return FileNotFoundError(f"{url} holds no {which}; materialize the asset that writes it.")


def localize(url: str | Path, version: str | None = None) -> Path:
    """A local path holding the folder artifact at ``url`` (its current version, or
    ``version``): the path itself when local, else a downloaded copy (removed at exit).

    Raises:
        FileNotFoundError: the artifact was never published; the message says to
            materialize the asset that writes it.
    """
    resolved = resolve(url, version)
    if resolved is None:
        raise _never_published(url, version)
    return download(resolved)
