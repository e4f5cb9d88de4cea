"""The noise-sequence dataset on disk: one Zarr v3 store, one group per prompt shard, chunked
along samples.

The store is a local path or an fsspec URL (``memory://``, ``s3://``, ...). Each shard is a
versioned folder (``gn_models.utils.versions``): a write fills a fresh group
``<shard>/versions/<id>``, marks it ``complete`` last and publishes it with one atomic pointer
write, so a killed or failed write is never visible, never touches the previous version, and
shards written at the same time by separate processes never share a file. The last
``KEEP_VERSIONS`` versions of a shard stay readable (``read_shard(..., version=id)``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from gn_models.data.noise_sequences import NoiseSequences
from gn_models.evaluation.quality import Verdict
from gn_models.utils import fsio, versions
from gn_models.utils.digest import digest_arrays

CHUNK_SIZE = 256  # samples per Zarr chunk
COMPRESSOR = BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")


class IncompleteShardError(FileNotFoundError):
    """The requested shard has no complete group in the store."""


def write_shard(
    store: str | Path,
    shard: str,
    data: NoiseSequences | None,
    chunk_size: int = CHUNK_SIZE,
    attrs: dict | None = None,
) -> str:
    """Write ``data`` as group ``shard`` of the Zarr store at ``store`` (created if missing).

    ``data=None`` writes an empty, complete shard (a shard with no prompts). Every array is
    chunked as (chunk_size, *rest) along the sample axis and compressed with
    Blosc zstd. Group attributes hold ``attrs`` plus ``count`` and ``complete``.

    Returns: the id of the published version (``versions.version_url(shard_url(...), id)``).
    """
    store = str(store)
    _ensure_root_group(store)
    with versions.new_version(shard_url(store, shard)) as version:
        group = zarr.open_group(versions.version_url(shard_url(store, shard), version), mode="w")
        for name, values in (data.arrays() if data is not None else {}).items():
            _write_array(group, name, values, chunk_size)
        count = len(data) if data is not None else 0
        group.attrs.update({**(attrs or {}), "count": count, "complete": True})
    return version


def _ensure_root_group(store: str) -> None:
    """Write the store's root group metadata (for zarr tools) unless present."""
    if fsio.exists(fsio.join(store, "zarr.json")):
        return
    try:
        zarr.open_group(store, mode="a")
    except zarr.errors.ContainsGroupError:  # another writer created it a moment ago
        pass


def shard_url(store: str | Path, shard: str) -> str:
    """URL of shard ``shard``'s versioned folder in the store."""
    return fsio.join(store, shard)


def _write_array(group: zarr.Group, name: str, values: np.ndarray, chunk_size: int) -> None:
    chunks = (max(1, min(chunk_size, len(values))), *values.shape[1:])
    if values.dtype == object:  # prompt texts
        array = group.create_array(name, shape=values.shape, dtype=str, chunks=chunks)
    else:
        array = group.create_array(
            name, shape=values.shape, dtype=values.dtype, chunks=chunks, compressors=COMPRESSOR
        )
    for start in range(0, len(values), chunks[0]):
        # one chunk per assignment: a failed write (a full disk) leaves no other chunk
        # write in flight, so the failed version can be removed whole
        array[start : start + chunks[0]] = values[start : start + chunks[0]]


def read_shard(
    store: str | Path, shard: str, names: list[str] | None = None, version: str | None = None
) -> dict[str, np.ndarray]:
    """Read arrays ``names`` (all when None, in name order) of a complete shard: its current
    version, or ``version`` (one of the last ``KEEP_VERSIONS``).

    Raises:
        IncompleteShardError: the shard was never written, or only partially.
    """
    group = open_shard(store, shard, version)
    names = names or sorted(name for name, _ in group.arrays())
    return {name: _as_numpy(group[name][...]) for name in names}


def verify_shard(
    store: str | Path, shard: str, data_version: str | None
) -> tuple[Verdict, dict[str, np.ndarray]]:
    """Read every array of the shard back and compare its digest (``digest_arrays``) with
    ``data_version``, the one recorded when the shard was materialized. Fails, naming the
    shard and its folder, when a chunk file is corrupted or truncated (it no longer
    decompresses, or decompresses to other values) or the shard is missing.

    Returns:
        the verdict, and the arrays read (as ``read_shard``; empty when they could not be
        read), so further checks need not read the shard again.
    """
    url = versions.resolve(shard_url(store, shard)) or shard_url(store, shard)
    repair = f"Rematerialize noise_sequences for partition {shard!r} to repair it."
    try:
        arrays = read_shard(store, shard)
    except Exception as err:  # any codec or store error of a damaged chunk: report, not crash
        message = f"Shard {shard!r} at {url} cannot be read back ({type(err).__name__}: {err}). "
        return Verdict(False, message + repair), {}
    found = digest_arrays(arrays)
    metrics = {"digest": found, "data_version": str(data_version), "path": url}
    if found != data_version:
        message = (
            f"Shard {shard!r} at {url}: the digest of its stored arrays, {found}, differs from "
            f"the data version {data_version} recorded at materialization: the stored data "
            "changed since (a corrupted chunk file?). "
        )
        return Verdict(False, message + repair, metrics), arrays
    message = f"Shard {shard!r} reads back with its recorded data version."
    return Verdict(True, message, metrics), arrays


def _as_numpy(values) -> np.ndarray:
    values = np.asarray(values)
    return values.astype(object) if values.dtype.kind == "T" else values  # texts as str objects


def open_shard(
    store: str | Path, shard: str, version: str | None = None, mode: str = "r"
) -> zarr.Group:
    """Open a complete shard's group (current version, or ``version``), read-only unless
    ``mode`` says otherwise (see ``read_shard`` for errors)."""
    path = versions.resolve(shard_url(store, shard), version)
    try:
        group = zarr.open_group(path, mode=mode) if path is not None else None
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        group = None
    if group is None or not group.attrs.get("complete", False):
        which = f"version {version} of shard" if version else "Shard"
        raise IncompleteShardError(
            f"{which} {shard!r} of the noise-sequence store {store} is missing or incomplete. "
            f"Materialize `noise_sequences` for partition {shard!r} first."
        )
    return group
