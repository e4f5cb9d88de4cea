"""Where artifacts live: a local folder or any fsspec URL (s3://, gs://, memory://, ...)."""

from pathlib import Path

from dagster import ConfigurableResource

from gn_models.utils import fsio


class StorageResource(ConfigurableResource):
    """Root of every artifact: the Zarr noise-sequence store, models, checkpoints, images and
    tables.

    ``root`` is a local path (made absolute) or an fsspec URL such as ``s3://bucket/gn``
    (install the filesystem's package, e.g. s3fs). Every location below is a string URL;
    writes go through ``gn_models.utils.fsio.staged_write`` and reads that need local files
    through ``gn_models.utils.fsio.localize``.
    """

    root: str = "artifacts"

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
