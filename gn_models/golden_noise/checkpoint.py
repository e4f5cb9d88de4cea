"""Golden-noise model checkpoints: ``model.safetensors`` plus ``config.json``.

``config.json`` holds the model kind, its config (enough to rebuild it) and free-form info
(training losses, data counts). Every golden-noise model saves and loads through here.

A checkpoint folder holds content only: its digest is the asset's data version, so the same
weights must give the same bytes. Timings, dates, host names and absolute paths never go into
it (they go to the Dagster metadata of the materialization).
"""

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def save_checkpoint(model: torch.nn.Module, directory: str | Path, config: dict, **info) -> None:
    """Write the model's state dict (contiguous CPU tensors) and its JSON config.

    Args:
        config: the model's config as JSON-ready values.
        info: JSON-ready content to record (losses, counts); no timings (module docstring).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, directory / "model.safetensors")
    meta = {"kind": model.kind, "config": config, **info}
    (directory / "config.json").write_text(json.dumps(meta, indent=2))


def checkpoint_kind(directory: str | Path) -> str:
    """The model kind recorded in ``directory/config.json``.

    Raises:
        FileNotFoundError: no checkpoint there; materialize the model's asset first.
    """
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"No golden-noise checkpoint in {directory}. Materialize the model's asset first."
        )
    return json.loads(path.read_text())["kind"]


def load_checkpoint(directory: str | Path, kind: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """The ``config.json`` dict (``config`` and the recorded info) and the state dict of a
    checkpoint of model ``kind``.

    Raises:
        FileNotFoundError: no checkpoint in ``directory``.
        ValueError: the checkpoint holds another kind of model.
    """
    found = checkpoint_kind(directory)
    if found != kind:
        raise ValueError(f"{directory} holds a {found!r} model, not {kind!r}.")
    meta = json.loads((Path(directory) / "config.json").read_text())
    return meta, load_file(Path(directory) / "model.safetensors")
