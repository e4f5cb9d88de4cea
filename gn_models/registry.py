"""Every golden-noise model kind, and loading a checkpoint of any of them."""

from pathlib import Path

import torch

from gn_models.checkpoint import checkpoint_kind
from gn_models.golden_model import GoldenNoiseModel
from gn_models.noise_net import FiLMNoiseNet
from gn_models.npnet import NPNet
from gn_models.sequence_rnn import NoiseSequenceRNN
from gn_models.sequence_transformer import NoiseSequenceTransformer

MODEL_CLASSES: dict[str, type[GoldenNoiseModel]] = {
    cls.kind: cls for cls in (NPNet, FiLMNoiseNet, NoiseSequenceTransformer, NoiseSequenceRNN)
}


def load_golden_model(
    directory: str | Path, device: str | torch.device = "cpu"
) -> GoldenNoiseModel:
    """Load a checkpoint of any registered kind (read from its config.json).

    Raises:
        FileNotFoundError: no checkpoint in ``directory``.
        ValueError: an unknown model kind.
    """
    kind = checkpoint_kind(directory)
    if kind not in MODEL_CLASSES:
        raise ValueError(
            f"{directory} holds an unknown model kind {kind!r}; known: {sorted(MODEL_CLASSES)}."
        )
    return MODEL_CLASSES[kind].load(directory, device)
