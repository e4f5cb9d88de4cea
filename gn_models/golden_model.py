"""The common shape of every golden-noise model (FiLMNoiseNet, NPNet, sequence models).

A golden-noise model maps x_T (B, C, H, W) and PromptEmbeds to a golden noise of the same
shape, so the pipeline treats them alike. Training data are noise sequences
(B, n+1, C, H, W) = [x_T, x'_1, ..., x'_n]; a one-step model learns x_T -> x'_1.
"""

from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gn_models.checkpoint import load_checkpoint, save_checkpoint
from gn_models.text_encoder import PromptEmbeds


class GoldenNoiseModel(nn.Module):
    """Base class: subclasses set ``kind`` and ``config_class`` and implement ``forward``.

    ``config`` is a dataclass saved in the checkpoint; ``load`` rebuilds from it.
    """

    kind: str = ""
    config_class: type = object
    one_step: bool = True  # trained on (x_T, x'_1); sequence models override

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
