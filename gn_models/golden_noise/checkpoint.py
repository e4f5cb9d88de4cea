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
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

REMATERIALIZE = "Rematerialize the model's asset to write a complete checkpoint."


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupt, or holds another model than the one expected.
    The message names the file, what was expected and what was found."""


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
    return _read_config(directory)["kind"]


def _read_config(directory: str | Path) -> dict:
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"No golden-noise checkpoint in {directory}. Materialize the model's asset first."
        )
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is truncated or corrupt ({err}). {REMATERIALIZE}") from err
    if not isinstance(meta, dict) or "kind" not in meta or "config" not in meta:
        raise CheckpointError(
            f"{path} is not a golden-noise checkpoint config (expected the keys 'kind' and "
            f"'config'). {REMATERIALIZE}"
        )
    return meta


def load_checkpoint(directory: str | Path, kind: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """The ``config.json`` dict (``config`` and the recorded info) and the state dict of a
    checkpoint of model ``kind``.

    Raises:
        FileNotFoundError: no checkpoint in ``directory``.
        CheckpointError: the checkpoint holds another kind of model, or a file is truncated or
            corrupt (the message names the file).
    """
    meta = _read_config(directory)
    if meta["kind"] != kind:
        raise CheckpointError(
            f"{Path(directory) / 'config.json'} holds a {meta['kind']!r} model, not {kind!r}. "
            "Point the loader at a checkpoint of that model, or load it with "
            "gn_models.golden_noise.registry.load_golden_model (any kind)."
        )
    weights = Path(directory) / "model.safetensors"
    try:
        return meta, load_file(weights)
    except (SafetensorError, OSError) as err:
        message = f"{weights} is truncated or corrupt ({err}). {REMATERIALIZE}"
        raise CheckpointError(message) from err


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], directory) -> None:
    """Load ``state`` into ``model``; every name and shape must match.

    Raises:
        CheckpointError: names the file, the missing and unexpected parameter names, and the
            parameters whose shapes differ (checkpoint vs the model built from config.json).
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{name}: {tuple(state[name].shape)} in the file, {tuple(value.shape)} expected"
        for name, value in expected.items()
        if name in state and state[name].shape != value.shape
    ]
    if missing or unexpected or shapes:
        problems = [
            f"missing {missing[:5]}" if missing else "",
            f"unexpected {unexpected[:5]}" if unexpected else "",
            f"other shapes: {'; '.join(shapes[:5])}" if shapes else "",
        ]
        raise CheckpointError(
            f"{Path(directory) / 'model.safetensors'} does not fit the {model.kind} built from "
            f"its config.json ({', '.join(p for p in problems if p)}). The weights come from "
            f"another architecture or configuration. {REMATERIALIZE}"
        )
    model.load_state_dict(state)
