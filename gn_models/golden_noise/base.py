"""The common shape of every golden-noise model (NPNet, FiLMNoiseNet, NoiseTransformer,
NoiseGRU).

A golden-noise model maps x_T (B, C, H, W) and PromptEmbeds to a golden noise of the same
shape, so the pipeline treats them alike. Training data are noise sequences
(B, n+1, C, H, W) = [x_T, x'_1, ..., x'_n]; a one-step model learns x_T -> x'_1.

Adding a model: one file in this package holding ``<Name>Config`` (a dataclass whose defaults
are the graph's defaults) and ``<Name>(GoldenNoiseModel)`` with ``kind`` = the file name,
``config_class``, ``data_fields``, ``from_data`` and ``forward``; then one line in
``gn_models.golden_noise.registry``. The pipeline makes its asset, its Dagster config (the
config's fields but ``data_fields``, plus ``TrainingConfig`` with ``training_defaults``), its
checkpoint check and its evaluation rows from that.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from gn_models.golden_noise.checkpoint import load_checkpoint, save_checkpoint
from gn_models.types import PromptEmbeds


class GoldenNoiseModel(nn.Module):
    """Base class: subclasses set the class attributes below and implement ``from_data`` and
    ``forward(x_T, cond) -> golden noise``.

    ``config`` is a dataclass saved in the checkpoint; ``load`` rebuilds from it.

    Class attributes:
        kind: registry name = module name = asset key (``"npnet"``).
        config_class: the config dataclass.
        data_fields: config fields that ``from_data`` sets from the training data (latent
            shape, embedding widths, chain length); users set the others.
        training_defaults: this model's overrides of ``TrainingConfig``'s defaults.
        one_step: trained on (x_T, x'_1) pairs; sequence models (False) on whole chains.
    """

    kind: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    data_fields: ClassVar[tuple[str, ...]] = ()
    training_defaults: ClassVar[dict[str, Any]] = {}
    one_step: ClassVar[bool] = True

    @classmethod
    def from_data(
        cls,
        config: Any,
        latent_shape: tuple[int, int, int],
        embeds: PromptEmbeds,
        num_redenoise: int,
    ) -> GoldenNoiseModel:
        """The model for this training data: ``config`` with its ``data_fields`` set.

        Args:
            config: an instance of ``config_class`` (its data fields are replaced).
            latent_shape: (C, H, W) of x_T.
            embeds: prompt embeddings of the training prompts, prompt_embeds (N, L, D) and
                pooled (N, D'), float32.
            num_redenoise: n, the chain length of the training sequences (1 for pairs).
        """
        raise NotImplementedError(f"{cls.__name__} does not define from_data.")

    def training_loss(self, sequence: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        """Loss on a batch of sequences (B, n+1, C, H, W); one-step models: MSE(f(x_T), x'_1)."""
        return F.mse_loss(self(sequence[:, 0], cond), sequence[:, 1])

    @torch.no_grad()
    def golden_noise(self, x_T: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        """Golden noise x'_T for x_T of any dtype and device (fp16 SDXL latents included).

        Runs the model on its own device in its own dtype (float32) and returns a tensor of
        x_T's shape (B, C, H, W), dtype and device.
        """
        weight = next(self.parameters())
        out = self(x_T.to(weight.device, weight.dtype), cond.to(weight.device).float())
        return out.to(x_T.device, x_T.dtype)

    def save_config(self) -> dict:
        """The config dataclass as a JSON-ready dict."""
        return asdict(self.config)

    def save(self, directory: str | Path, **info) -> None:
        """Write ``model.safetensors`` + ``config.json`` (kind, config, ``info``)."""
        save_checkpoint(self, directory, self.save_config(), **info)

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu"):
        """Rebuild from ``config.json`` and load the weights (errors: see load_checkpoint)."""
        config, state = load_checkpoint(directory, cls.kind)
        model = cls(cls.config_class(**config))
        model.load_state_dict(state)
        return model.to(device).eval()
