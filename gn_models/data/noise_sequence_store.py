"""The noise-sequence dataset on disk: one Zarr v3 store, one group per prompt shard, chunked
along samples.

The store is a local path or an fsspec URL (``memory://``, ``s3://``, ...). A shard is
written to a sibling ``<shard>.partial-<id>`` group, marked ``complete`` last, then moved
into place; readers only open complete groups, so an interrupted write is never visible as
complete and never destroys the previous version of the shard.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from gn_models.data.noise_sequences import NoiseSequences
from gn_models.utils import fsio

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

    Returns: the URL (or path) of the shard's group.
    """
    store = str(store)
    zarr.open_group(store, mode="a")  # root group metadata
    partial = fsio.join(store, f"{shard}.partial-{uuid.uuid4().hex[:8]}")
    group = zarr.open_group(partial, mode="w")
    for name, values in (data.arrays() if data is not None else {}).items():
        _write_array(group, name, values, chunk_size)
    count = len(data) if data is not None else 0
    group.attrs.update({**(attrs or {}), "count": count, "complete": True})
    final = fsio.join(store, shard)
    fsio.replace(partial, final)
    return final


def _write_array(group: zarr.Group, name: str, values: np.ndarray, chunk_size: int) -> None:
    chunks = (max(1, min(chunk_size, len(values))), *values.shape[1:])
    if values.dtype == object:  # prompt texts
        array = group.create_array(name, shape=values.shape, dtype=str, chunks=chunks)
    else:
        array = group.create_array(
            name, shape=values.shape, dtype=values.dtype, chunks=chunks, compressors=COMPRESSOR
        )
    if len(values):
        array[...] = values


def read_shard(
    store: str | Path, shard: str, names: list[str] | None = None
) -> dict[str, np.ndarray]:
    """Read arrays ``names`` (all when None, in name order) of a complete shard.

    Raises:
        IncompleteShardError: the shard was never written, or only partially.
    """
    group = open_shard(store, shard)
    names = names or sorted(name for name, _ in group.arrays())
    return {name: _as_numpy(group[name][...]) for name in names}


def read_states(store: str | Path, shard: str, steps: list[int]) -> np.ndarray:
    """The noise states ``steps`` of every sequence of a complete shard, without reading the
    others: (N, len(steps), C, H, W) float32 (step 0 is x_T, -1 is x'_n); (0, len(steps))
    for an empty shard.

    Raises:
        IncompleteShardError: the shard was never written, or only partially.
    """
    group = open_shard(store, shard)
    if group.attrs["count"] == 0:
        return np.zeros((0, len(steps)), dtype=np.float32)
    noise = group["noise"]
    steps = [s % noise.shape[1] for s in steps]
    return np.asarray(noise.get_orthogonal_selection((slice(None), steps)))


def _as_numpy(values) -> np.ndarray:
    values = np.asarray(values)
    return values.astype(object) if values.dtype.kind == "T" else values  # texts as str objects


def open_shard(store: str | Path, shard: str) -> zarr.Group:
    """Open a complete shard's group read-only (see ``read_shard`` for errors)."""
    path = fsio.join(store, shard)
    try:
        group = zarr.open_group(path, mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        group = None
    if group is None or not group.attrs.get("complete", False):
        raise IncompleteShardError(
            f"Shard {shard!r} of the noise-sequence store {store} is missing or incomplete. "
            f"Materialize `noise_sequences` for partition {shard!r} first."
        )
    return group
