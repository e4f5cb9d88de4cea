"""The common shape of every golden-noise model (NPNet, FiLMNoiseNet, NoiseTransformer,
NoiseGRU).

A golden-noise model maps x_T (B, C, H, W) and PromptEmbeds to a golden noise of the same
shape, so the pipeline treats them alike. Training data are noise sequences
(B, n+1, C, H, W) = [x_T, x'_1, ..., x'_n]; a one-step model learns x_T -> x'_1.

Adding a model: one file in this package holding ``<Name>Config`` (a dataclass whose defaults
are the graph's defaults) and ``<Name>(GoldenNoiseModel)`` with ``kind`` = the file name,
``config_class``, ``data_fields``, ``data_values`` and ``forward``; then one line in
``gn_models.golden_noise.registry``. The pipeline makes its asset, its Dagster config (the
config's fields but ``data_fields``, plus ``TrainingConfig`` with ``training_defaults``), its
checkpoint check and its evaluation rows from that.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from gn_models.golden_noise.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from gn_models.sampling.gaussian_shell import rescale_to_norm
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
        training_defaults: this model's overrides of the defaults of its asset config's
            parts (``TrainingConfig``, ``OneStepTargets``, ``RolloutSelection``).
        one_step: trained on (x_T, x'_k) pairs; sequence models (False) on whole chains.

    ``rollout_lengths`` maps a sampling CFG scale (``f"{cfg:g}"``) to the rollout length that
    ``golden_noise`` uses there (chosen on validation by the filter reward, see
    ``gn_models.golden_noise.rollout``, and saved with the checkpoint); other scales use
    ``default_rollout`` (one-step models: 1; sequence models: their chain length n).
    """

    kind: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    data_fields: ClassVar[tuple[str, ...]] = ()
    training_defaults: ClassVar[dict[str, Any]] = {}
    one_step: ClassVar[bool] = True

    def __init__(self):
        super().__init__()
        self.rollout_lengths: dict[str, int] = {}

    @classmethod
    def data_values(
        cls, latent_shape: tuple[int, int, int], embeds: PromptEmbeds, num_redenoise: int
    ) -> dict[str, int]:
        """The ``data_fields`` values that data of these shapes imply.

        Args:
            latent_shape: (C, H, W) of x_T.
            embeds: prompt embeddings, prompt_embeds (N, L, D) and pooled (N, D'), float32.
            num_redenoise: n, the chain length of the training sequences (1 for pairs).

        Returns:
            {field: value} for every name in ``data_fields``.
        """
        raise NotImplementedError(f"{cls.__name__} does not define data_values.")

    @classmethod
    def from_data(
        cls,
        config: Any,
        latent_shape: tuple[int, int, int],
        embeds: PromptEmbeds,
        num_redenoise: int,
    ) -> GoldenNoiseModel:
        """The model for this training data: ``config`` with its ``data_fields`` set from
        ``data_values`` (arguments as there)."""
        return cls(replace(config, **cls.data_values(latent_shape, embeds, num_redenoise)))

    def input_mismatches(
        self, latent_shape: tuple[int, int, int], embeds: PromptEmbeds
    ) -> dict[str, tuple[int, int]]:
        """Where a pipeline's x_T (C, H, W) and prompt embeddings differ from what this model
        was built for: {data field: (the model's value, the pipeline's)}, empty when they fit.
        The chain length (``num_steps``) is not an input shape and never differs. Models that
        define only ``from_data`` (not ``data_values``) cannot be checked: empty."""
        num_steps = getattr(self.config, "num_steps", 1)
        try:
            values = self.data_values(latent_shape, embeds, num_steps)
        except NotImplementedError:
            return {}
        return {
            name: (getattr(self.config, name), value)
            for name, value in values.items()
            if getattr(self.config, name) != value
        }

    def training_loss(self, sequence: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        """Loss on a batch of sequences (B, n+1, C, H, W); one-step models: MSE(f(x_T), x'_1)."""
        return F.mse_loss(self(sequence[:, 0], cond), sequence[:, 1])

    @property
    def default_rollout(self) -> int:
        """Rollout length where ``rollout_lengths`` names none: 1 (one-step models)."""
        return 1

    def rollout(self, x_T: torch.Tensor, cond: PromptEmbeds, length: int) -> torch.Tensor:
        """The model applied ``length`` times from x_T (B, C, H, W) float32, as re-denoise is
        chained; sequence models roll their learned transition forward instead."""
        x = x_T
        for _ in range(length):
            x = self(x, cond)
        return x

    def rollout_length(self, cfg_scale: float | None) -> int:
        """The rollout length for sampling at ``cfg_scale`` (None: ``default_rollout``)."""
        if cfg_scale is None:
            return self.default_rollout
        return self.rollout_lengths.get(f"{cfg_scale:g}", self.default_rollout)

    @torch.no_grad()
    def golden_noise(
        self, x_T: torch.Tensor, cond: PromptEmbeds, cfg_scale: float | None = None
    ) -> torch.Tensor:
        """Golden noise x'_T for x_T of any dtype and device (fp16 SDXL latents included),
        for images to be sampled at ``cfg_scale`` (picks the rollout length).

        Runs the model on its own device in its own dtype (float32) and returns a tensor of
        x_T's shape (B, C, H, W), dtype and device.
        """
        weight = next(self.parameters())
        length = self.rollout_length(cfg_scale)
        out = self.rollout(
            x_T.to(weight.device, weight.dtype), cond.to(weight.device).float(), length
        )
        return out.to(x_T.device, x_T.dtype)

    def on_shell(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``out`` rescaled to the norm of ``x`` per sample when the config asks for it
        (``renormalize``): golden noise stays on x_T's Gaussian shell."""
        return rescale_to_norm(out, x) if getattr(self.config, "renormalize", False) else out

    def save_config(self) -> dict:
        """The config dataclass as a JSON-ready dict."""
        return asdict(self.config)

    def save(self, directory: str | Path, **info) -> None:
        """Write ``model.safetensors`` + ``config.json`` (kind, config, rollout lengths,
        ``info``)."""
        info = {"rollout_lengths": dict(sorted(self.rollout_lengths.items())), **info}
        save_checkpoint(self, directory, self.save_config(), **info)

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu"):
        """Rebuild from ``config.json`` and load the weights and rollout lengths (errors: see
        load_checkpoint)."""
        meta, state = load_checkpoint(directory, cls.kind)
        try:
            config = cls.config_class(**meta["config"])
        except TypeError as err:  # fields of another version of the config
            raise CheckpointError(
                f"{Path(directory) / 'config.json'}: its config does not fit "
                f"{cls.config_class.__name__} ({err})."
            ) from err
        model = cls(config)
        load_weights(model, state, directory)
        model.rollout_lengths = dict(meta.get("rollout_lengths", {}))
        return model.to(device).eval()


class SequenceNoiseModel(GoldenNoiseModel):
    """Base class of the sequence models (NoiseTransformer, NoiseGRU): trained on whole chains,
    they define ``generate_sequence(x_T, cond, num_steps) -> (B, num_steps + 1, C, H, W)``
    (their learned transition rolled forward) and a config with ``num_steps`` (n)."""

    one_step: ClassVar[bool] = False

    def generate_sequence(
        self, x_T: torch.Tensor, cond: PromptEmbeds, num_steps: int | None = None
    ) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define generate_sequence.")

    @property
    def default_rollout(self) -> int:
        """The chain length n of the training sequences."""
        return self.config.num_steps

    def rollout(self, x_T: torch.Tensor, cond: PromptEmbeds, length: int) -> torch.Tensor:
        return self.generate_sequence(x_T, cond, length)[:, -1].to(x_T.dtype)

    def forward(self, x_T: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        """x'_n: the learned transition applied n times."""
        return self.rollout(x_T, cond, self.default_rollout)
