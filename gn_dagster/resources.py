"""The prompt-source resource and the prompt files shipped with the package."""

from importlib import resources as importlib_resources

from dagster import ConfigurableResource, DagsterInstance

from gn_dagster.partitions import NUM_SHARDS, register_shards, registered_shards
from gn_models.data.shards import read_shards, source_signature
from gn_models.prompts import Prompt


def packaged_prompt_file(name: str) -> str:
    """Path of a prompt file shipped in gn_dagster/data."""
    return str(importlib_resources.files("gn_dagster") / "data" / name)


class PromptSourceResource(ConfigurableResource):
    """The training prompt source (sharded) and the evaluation prompt source.

    The training source is a CSV or TXT file or a Hugging Face dataset spec (split into
    ``GN_NUM_SHARDS`` hash shards), or a directory of such files (one shard per file); see
    ``gn_models.prompt_shards``. The evaluation source is a file or dataset spec (see
    ``gn_models.prompts.read_prompts``). Empty values select the digits profile's packaged
    files.
    """

    train_path: str = ""
    eval_path: str = ""

    def train_file(self) -> str:
        return self.train_path or packaged_prompt_file("digits_train_prompts.csv")

    def eval_file(self) -> str:
        return self.eval_path or packaged_prompt_file("digits_eval_prompts.csv")

    def train_signature(self) -> str | None:
        """Cheap fingerprint of the training source (None: read it to know)."""
        return source_signature(self.train_file())

    def shard_prompts(self, key: str) -> list[Prompt]:
        """The prompts of shard ``key`` (none when the source no longer has that shard)."""
        return read_shards(self.train_file(), NUM_SHARDS).get(key, [])

    def current_shards(self, instance: DagsterInstance) -> dict[str, list[Prompt]]:
        """Every shard's prompts as the training source holds them now.

        Registers the source's new shards with ``instance``; a registered shard the source
        no longer has (its file was deleted) is listed with no prompts.

        Raises:
            PromptFileError: the source cannot be read (the message names it and the fix).
        """
        shards = read_shards(self.train_file(), NUM_SHARDS)
        register_shards(instance, list(shards))
        return {key: shards.get(key, []) for key in registered_shards(instance)}
