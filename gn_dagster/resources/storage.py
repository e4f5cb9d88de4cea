"""Where artifacts live: a local folder or any fsspec URL (s3://, gs://, memory://, ...)."""

import tempfile
from pathlib import Path

from dagster import ConfigurableResource, InitResourceContext

from gn_models.utils import fsio


class StorageResource(ConfigurableResource):
    """Root of every artifact: the Zarr noise-sequence store, models, checkpoints, images and
    tables.

    ``root`` is a local path (made absolute) or an fsspec URL such as ``s3://bucket/gn``
    (install the filesystem's package, e.g. s3fs). Every location below is a string URL;
    tables are written whole by ``gn_models.utils.fsio.staged_file``; folders (models,
    checkpoints, image sets, noise shards) are versioned and published atomically, and read
    through ``gn_models.utils.versions`` (``localize``, ``current``).
    """

    root: str = "artifacts"

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Check, when a run first uses the storage (before any step computes), that a local
        root can be written (an object store's permissions show at its first write).

        Raises:
            ValueError: the root is not writable (the message names it and the fix).
        """
        if fsio.is_local(self.root):
            check_writable(self.url())

    def url(self, *parts: str) -> str:
        """``root`` joined with ``parts``; an absolute path when the root is local."""
        root = str(Path(fsio.url_to_fs(self.root)[1])) if fsio.is_local(self.root) else self.root
        return fsio.join(root, *parts)

    @property
    def base_model_dir(self) -> str:
        return self.url("base_model")

    def reward_dir(self, role: str) -> str:
        """Folder of the ``filter`` or ``judge`` reward model."""
        return self.url(f"{role}_reward_model")

    def prompts_path(self, name: str) -> str:
        """Parquet file of one prompt shard (``shard-03``) or of the evaluation prompts."""
        return self.url("prompts", f"{name}.parquet")

    @property
    def noise_sequence_store(self) -> str:
        return self.url("noise_sequences.zarr")

    def checkpoint_dir(self, model: str) -> str:
        return self.url("checkpoints", model)

    @property
    def eval_images_dir(self) -> str:
        return self.url("eval_images")

    @property
    def scores_path(self) -> str:
        return self.url("scores", "scores.parquet")

    @property
    def realism_path(self) -> str:
        return self.url("scores", "realism.parquet")

    @property
    def comparison_path(self) -> str:
        return self.url("scores", "comparison.parquet")


def check_writable(folder: str) -> None:
    """Make ``folder`` (a local path) if needed and write and delete a file in it.

    Raises:
        ValueError: it cannot be made or written (read-only, a file, a path under a file, a
            read-only file system); the message names it, the reason and the fix.
    """
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = _REASONS.get(type(error), error.strerror or str(error))
        raise ValueError(
            f"The storage root {folder} (GN_STORAGE_ROOT, or resources.storage.config.root) "
            f"is not writable: {reason}. Set GN_STORAGE_ROOT to a folder this process can "
            "write, or make that folder writable."
        ) from None


_REASONS = {
    FileExistsError: "it is a file, not a folder",
    NotADirectoryError: "a folder above it is a file",
}
