"""The prompt sources, and the prompt files shipped with the package."""

from importlib import resources as importlib_resources

from dagster import ConfigurableResource

from gn_models.data.shards import read_shards, source_signature
from gn_models.types import Prompt


def packaged_prompt_file(name: str) -> str:
    """Path of a prompt file shipped in gn_dagster/data."""
    return str(importlib_resources.files("gn_dagster") / "data" / name)


class PromptSourceResource(ConfigurableResource):
    """The training prompt source (sharded) and the evaluation prompt source; read-only.

    The training source is a CSV or TXT file or a Hugging Face dataset spec (split into
    ``num_shards`` hash shards), or a directory of such files (one shard per file); see
    ``gn_models.data.shards``. The evaluation source is a file or dataset spec (see
    ``gn_models.data.prompt_source.read_prompts``). Empty paths select the digits profile's
    packaged files.
    """

    train_path: str = ""
    eval_path: str = ""
    num_shards: int = 8  # hash shards of a file or dataset source (1-99)

    def train_file(self) -> str:
        return self.train_path or packaged_prompt_file("digits_train_prompts.csv")

    def eval_file(self) -> str:
        return self.eval_path or packaged_prompt_file("digits_eval_prompts.csv")

    def train_signature(self) -> str | None:
        """Cheap fingerprint of the training source (None: read it to know)."""
        return source_signature(self.train_file())

    def shards(self) -> dict[str, list[Prompt]]:
        """Every shard of the training source with its prompts, as the source holds them now.

        Raises:
            PromptFileError: the source cannot be read (the message names it and the fix).
        """
        return read_shards(self.train_file(), self.num_shards)

    def shard_prompts(self, key: str) -> list[Prompt]:
        """The prompts of shard ``key`` (none when the source no longer has that shard)."""
        return self.shards().get(key, [])
