"""Content digests: short SHA-256 hashes of arrays and of files on disk.

The pipeline uses them as data versions: an artifact whose digest did not change did not
change, so nothing downstream of it needs to run again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

DIGEST_LENGTH = 16  # hex digits kept


def digest_arrays(arrays: dict[str, np.ndarray]) -> str:
    """Digest of named arrays: names, dtypes, shapes and values (str arrays by their text).

    Args:
        arrays: name -> numpy array of any dtype and shape; object arrays hold str.
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        values = np.asarray(arrays[name])
        h.update(f"{name}\0{values.dtype.str}\0{values.shape}\0".encode())
        if values.dtype == object or values.dtype.kind in "UT":
            h.update("\0".join(map(str, values.ravel())).encode("utf-8"))
        else:
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()[:DIGEST_LENGTH]


def digest_tree(path: str | Path) -> str:
    """Digest of a local file (its bytes), or of a folder (every file's relative path and
    bytes). The name of ``path`` itself does not count, so a staged copy digests the same.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Cannot digest {path}: it does not exist.")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for file in files:
        h.update(f"{file.relative_to(path).as_posix() if file != path else ''}\0".encode())
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()[:DIGEST_LENGTH]
