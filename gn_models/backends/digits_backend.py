"""The digits diffusion backend: a small pixel-space UNet2DConditionModel on 8x8 digits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from diffusers import UNet2DConditionModel

from gn_models.backends.base import DiffusionBackend
from gn_models.backends.digits_training import (
    SCHEDULER_CONFIG,
    DigitsBackendConfig,
    train_digits_unet,
)
from gn_models.backends.minilm_text_encoder import MiniLMTextEncoder
from gn_models.data.digits import load_digit_splits
from gn_models.sampling.ddim import ddim_sample
from gn_models.types import PreparedModel, PromptEmbeds
from gn_models.utils.device import resolve_device


class DigitsBackend(DiffusionBackend):
    """DiffusionBackend for the digits profile.

    Latents are the pixels themselves: (B, 1, 8, 8) float32, data range [-1, 1]; ``decode``
    maps them to images in [0, 1] of the same shape.

    Args:
        unet: the trained (or freshly built) UNet2DConditionModel.
        encoder: the frozen MiniLM text encoder.
        device: torch device.
    """

    kind = "digits"
    config_class = DigitsBackendConfig

    def __init__(
        self,
        unet: UNet2DConditionModel,
        encoder: MiniLMTextEncoder,
        device: str | torch.device = "cpu",
    ):
        self.device = torch.device(device)
        self.unet = unet.to(self.device).eval()
        self.encoder = encoder

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        size = self.unet.config.sample_size
        return (self.unet.config.in_channels, size, size)

    @property
    def scheduler_config(self) -> dict[str, Any]:
        return dict(SCHEDULER_CONFIG)

    @property
    def prompt_tokenizer(self):
        return self.encoder.tokenizer, self.encoder.max_length

    def encode_prompts(self, prompts: list[str]) -> PromptEmbeds:
        return self.encoder.encode(prompts).to(self.device)

    def denoiser(self, x: torch.Tensor, t: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        return self.unet(
            x,
            t,
            encoder_hidden_states=cond.prompt_embeds,
            encoder_attention_mask=cond.attention_mask,
        ).sample

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return (latents.float().clamp(-1, 1) + 1) / 2

    def generate(
        self, x_T: torch.Tensor, cond: PromptEmbeds, cfg_scale: float, num_steps: int
    ) -> torch.Tensor:
        """Images (B, 1, 8, 8) in [0, 1] by deterministic DDIM from x_T (B, 1, 8, 8)."""
        return self.decode(ddim_sample(self, x_T, cond, cfg_scale, num_steps))

    @classmethod
    def prepare(
        cls, config: DigitsBackendConfig, directory: Path, device: str = "auto"
    ) -> PreparedModel:
        """Train the base model on the base split of sklearn's digits and save it to
        ``directory`` (a local folder, created). Reports parameters, images, final loss and
        the loss curve (smoothed over 20 windows)."""
        splits = load_digit_splits(config.seed)
        encoder = MiniLMTextEncoder(config.max_prompt_tokens, resolve_device(device))
        unet, log = train_digits_unet(*splits.base, encoder, config, device=device)
        cls(unet, encoder, unet.device).save(directory)
        window = max(1, len(log.losses) // 20)
        steps = list(range(window, len(log.losses) + 1, window))
        smoothed = [sum(log.losses[s - window : s]) / window for s in steps]
        return PreparedModel(
            metadata={
                "parameters": sum(p.numel() for p in unet.parameters()),
                "train_images": len(splits.base[1]),
                "steps": config.steps,
                "final_loss": sum(log.losses[-window:]) / window,
                "train_seconds": round(log.seconds, 1),
            },
            curves={"train loss": (steps, smoothed)},
        )

    @classmethod
    def load(
        cls, config: DigitsBackendConfig, directory: Path, device: str = "auto"
    ) -> DigitsBackend:
        """The base model that ``prepare`` saved in ``directory`` (errors: ``from_directory``)."""
        return cls.from_directory(directory, resolve_device(device))

    def save(self, directory: str | Path) -> None:
        """Write ``unet/`` (diffusers safetensors + config) and ``text_encoder.json``."""
        directory = Path(directory)
        self.unet.save_pretrained(directory / "unet")
        (directory / "text_encoder.json").write_text(
            json.dumps({"name": "all-MiniLM-L6-v2", "max_length": self.encoder.max_length})
        )

    @classmethod
    def from_directory(
        cls, directory: str | Path, device: str | torch.device = "cpu"
    ) -> DigitsBackend:
        """Load a backend written by ``save``.

        Raises:
            FileNotFoundError: ``directory`` holds no trained digits model; materialize the
                ``base_model`` asset first.
        """
        directory = Path(directory)
        if not (directory / "unet" / "config.json").is_file():
            raise FileNotFoundError(
                f"No digits base model in {directory}. Materialize the `base_model` asset first "
                "(make demo, or the Dagster UI)."
            )
        text_cfg = json.loads((directory / "text_encoder.json").read_text())
        unet = UNet2DConditionModel.from_pretrained(directory / "unet")
        encoder = MiniLMTextEncoder(max_length=text_cfg["max_length"], device=device)
        return cls(unet, encoder, device)
