"""Where pretrained weights load from: a local folder or a Hugging Face cache snapshot."""

from __future__ import annotations

from pathlib import Path


def snapshot_folder(model: str, filename: str) -> str:
    """The folder the weights of ``model`` load from, for records of which weights were used.

    Args:
        model: a local folder, or a Hugging Face repo id.
        filename: a file every snapshot of the repo holds (``config.json``,
            ``model_index.json``); it locates the snapshot in the cache.

    Returns:
        ``model`` resolved when it is a local folder, else the cache snapshot folder holding
        ``filename`` (named by the commit hash, so a new download changes it), else "" (not in
        the cache). Never downloads.
    """
    from huggingface_hub import try_to_load_from_cache

    if Path(model).is_dir():
        return str(Path(model).resolve())
    found = try_to_load_from_cache(model, filename)
    return str(Path(found).parent) if isinstance(found, str) else ""
