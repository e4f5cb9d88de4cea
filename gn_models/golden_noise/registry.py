"""Every golden-noise model kind, and loading a checkpoint of any of them.

Adding a model: its file in this package, plus one entry in ``MODEL_CLASSES`` below (or
``register_model(cls)`` from outside the package, before the Dagster definitions are built).
"""

from __future__ import annotations

from pathlib import Path

import torch

from gn_models.golden_noise.base import GoldenNoiseModel
from gn_models.golden_noise.checkpoint import checkpoint_kind
from gn_models.golden_noise.film_noise_net import FiLMNoiseNet
from gn_models.golden_noise.noise_gru import NoiseGRU
from gn_models.golden_noise.noise_transformer import NoiseTransformer
from gn_models.golden_noise.npnet import NPNet
from gn_models.utils.registry import Registry

MODEL_CLASSES: Registry[GoldenNoiseModel] = Registry(
    "golden-noise model", [NPNet, FiLMNoiseNet, NoiseTransformer, NoiseGRU]
)
register_model = MODEL_CLASSES.register
model_class = MODEL_CLASSES.get


def load_golden_model(
    directory: str | Path, device: str | torch.device = "cpu"
) -> GoldenNoiseModel:
    """Load a checkpoint of any registered kind (read from its config.json).

    Raises:
        FileNotFoundError: no checkpoint in ``directory``.
        ValueError: an unknown model kind.
    """
    return model_class(checkpoint_kind(directory)).load(directory, device)
