"""Rewards trained here (the digits profile) save as ``reward.safetensors`` + ``reward.json``."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def save_reward_tensors(
    directory: str | Path, tensors: dict[str, torch.Tensor], name: str, version: str, **info
) -> None:
    """Write ``tensors`` (contiguous CPU copies) and ``reward.json`` (name, version, ``info``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    save_file(state, directory / "reward.safetensors")
    meta = {"name": name, "version": version, **info}
    (directory / "reward.json").write_text(json.dumps(meta, indent=2))


def load_reward_tensors(directory: str | Path, name: str) -> dict[str, torch.Tensor]:
    """The tensors that ``save_reward_tensors`` wrote for the reward ``name``.

    Raises:
        FileNotFoundError: no reward there; the message says which asset makes it.
        ValueError: the folder holds another reward.
    """
    path = Path(directory) / "reward.safetensors"
    if not path.is_file():
        raise FileNotFoundError(
            f"No {name} reward in {directory}. Materialize its reward asset (filter_reward_model "
            "or judge_reward_model) first: make demo, or the Dagster UI."
        )
    found = json.loads((Path(directory) / "reward.json").read_text()).get("name")
    if found != name:
        raise ValueError(f"{directory} holds the {found!r} reward, not {name!r}.")
    return load_file(path)
