"""``read_prompts(source)``: the one entry point for reading a whole prompt source.

A source is a prompt file (CSV or TXT, ``gn_models.data.prompt_files``) or a Hugging Face
dataset spec starting with ``hf:`` (``gn_models.data.hf_datasets``). Both give the same
normalised, de-duplicated ``Prompt`` list.
"""

from __future__ import annotations

from pathlib import Path

from gn_models.data.hf_datasets import HF_PREFIX, read_dataset_prompts
from gn_models.data.prompt_files import read_prompt_file
from gn_models.types import Prompt


def read_prompts(source: str | Path) -> list[Prompt]:
    """Read, normalise and de-duplicate the prompts of a prompt source.

    Args:
        source: a CSV or TXT path (see ``read_prompt_file``), or a Hugging Face dataset spec
            ``hf:<dataset>?split=<split>&column=<caption column>[&config=..][&label=..]
            [&limit=..][&cache_dir=..]`` (see ``gn_models.prompt_datasets``). Examples::

                /work/shared/data/prompts/drawbench.csv
                prompts/train.txt
                hf:yuvalkirstain/pickapic_v1_no_images?split=test&column=caption
                hf:/data/parti-prompts?split=train&column=Prompt&limit=100

    Raises:
        PromptFileError: the source cannot be read or holds no prompt; the message says what
            to do (for a Hub dataset that is not cached: which command fetches it).
    """
    if isinstance(source, str) and source.startswith(HF_PREFIX):
        return read_dataset_prompts(source)
    return read_prompt_file(source)
