"""The prompt-source resource and the prompt files shipped with the package."""

from importlib import resources as importlib_resources

from dagster import ConfigurableResource


def packaged_prompt_file(name: str) -> str:
    """Path of a prompt file shipped in gn_dagster/data."""
    return str(importlib_resources.files("gn_dagster") / "data" / name)


class PromptSourceResource(ConfigurableResource):
    """The training prompt source (sharded) and the evaluation prompt source.

    A source is a CSV or TXT file or a Hugging Face dataset spec (see
    ``gn_models.prompts.read_prompts``). Empty values select the digits profile's packaged
    files.
    """

    train_path: str = ""
    eval_path: str = ""

    def train_file(self) -> str:
        return self.train_path or packaged_prompt_file("digits_train_prompts.csv")

    def eval_file(self) -> str:
        return self.eval_path or packaged_prompt_file("digits_eval_prompts.csv")
