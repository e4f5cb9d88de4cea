"""Prompt lists as parquet tables (the ``prompts`` and ``eval_prompts`` assets' files)."""

import pandas as pd

from gn_models.types import Prompt
from gn_models.utils.tables import read_parquet


def prompts_frame(prompts: list[Prompt]) -> pd.DataFrame:
    """Prompts as a frame with columns prompt (str) and label (nullable Int64)."""
    return pd.DataFrame(
        {
            "prompt": pd.Series([p.text for p in prompts], dtype="string"),
            "label": pd.Series([p.label for p in prompts], dtype="Int64"),
        }
    )


def read_prompts_frame(path) -> list[Prompt]:
    """Inverse of ``prompts_frame`` from a parquet file."""
    frame = read_parquet(path)
    return [
        Prompt(str(t), None if pd.isna(lab) else int(lab))
        for t, lab in zip(frame["prompt"], frame["label"], strict=False)
    ]
