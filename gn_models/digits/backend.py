"""The digits diffusion backend: a small pixel-space UNet2DConditionModel on 8x8 digits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from diffusers import UNet2DConditionModel

from gn_models.backend import DiffusionBackend
from gn_models.text_encoder import MiniLMTextEncoder, PromptEmbeds

# DDPM training schedule; DDIM sampling reuses it ("leading" spacing: 900, 800, ..., 0 at 10 steps).
SCHEDULER_CONFIG: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_schedule": "squaredcos_cap_v2",
    "prediction_type": "epsilon",
    "clip_sample": False,
    "set_alpha_to_one": True,
    "steps_offset": 0,
    "timestep_spacing": "leading",
}


def build_digits_unet(
    cross_attention_dim: int = MiniLMTextEncoder.embed_dim,
) -> UNet2DConditionModel:
    """A ~0.9M-parameter UNet2DConditionModel for (B, 1, 8, 8) pixels, cross-attending to
    MiniLM prompt_embeds (B, L, 384). Random init (seed it before calling)."""
    return UNet2DConditionModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=8,
    )


class DigitsBackend(DiffusionBackend):
    """DiffusionBackend for the digits profile.

    Latents are the pixels themselves: (B, 1, 8, 8) float32, data range [-1, 1]; ``decode``
    maps them to images in [0, 1] of the same shape.

    Args:
        unet: the trained (or freshly built) UNet2DConditionModel.
        encoder: the frozen MiniLM text encoder.
        device: torch device.
    """

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

    def save(self, directory: str | Path) -> None:
        """Write ``unet/`` (diffusers safetensors + config) and ``text_encoder.json``."""
        directory = Path(directory)
        self.unet.save_pretrained(directory / "unet")
        (directory / "text_encoder.json").write_text(
            json.dumps({"name": "all-MiniLM-L6-v2", "max_length": self.encoder.max_length})
        )

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> DigitsBackend:
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
