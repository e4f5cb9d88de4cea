"""Train the digits base model: epsilon-prediction DDPM loss (Ho et al. 2020, eq. 14) on
captioned 8x8 digits, with prompt dropout for classifier-free guidance."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel
from tqdm.auto import tqdm

from gn_models.backends.minilm_text_encoder import MiniLMTextEncoder
from gn_models.data.digits import TRAIN_PHRASINGS, captions
from gn_models.utils.training import adamw_cosine, make_accelerator
from gn_models.utils.validation import AT_LEAST_1, NON_NEGATIVE, PROBABILITY, require

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


@dataclass
class DigitsBackendConfig:
    """Settings of the digits base model: how the pipeline trains it."""

    steps: int = 280  # optimiser steps
    batch_size: int = 128
    learning_rate: float = 2e-3
    prompt_dropout: float = 0.1  # probability of training on the empty prompt (for CFG)
    seed: int = 0  # image split, initialisation and batches
    max_prompt_tokens: int = 16  # L of the MiniLM prompt_embeds

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a count below 1, a negative, NaN or Inf
        learning rate, or a prompt dropout outside [0, 1]."""
        require(self, AT_LEAST_1, "steps", "batch_size", "max_prompt_tokens")
        require(self, NON_NEGATIVE, "learning_rate")
        require(self, PROBABILITY, "prompt_dropout")


@dataclass
class BaseModelTrainingLog:
    """Per-step training losses (float) and wall time in seconds."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_digits_unet(
    images: torch.Tensor,
    labels: torch.Tensor,
    encoder: MiniLMTextEncoder,
    config: DigitsBackendConfig,
    device: str = "auto",
) -> tuple[UNet2DConditionModel, BaseModelTrainingLog]:
    """Train a UNet2DConditionModel on digits with captions from TRAIN_PHRASINGS x STYLES.

    Args:
        images: (N, 1, 8, 8) float32 in [-1, 1].
        labels: (N,) int64 digits 0..9.
        encoder: frozen MiniLM encoder (its prompt_embeds are the cross-attention context).
        config: steps, batch size, learning rate, prompt dropout, seed.

    Returns:
        the trained UNet (eval mode, on the accelerator's device) and the loss log.
    """
    torch.manual_seed(config.seed)
    accelerator = make_accelerator(device)
    table = captions(TRAIN_PHRASINGS)
    embeds = encoder.encode([c for c, _ in table] + [""])  # last row: the empty prompt
    per_digit = len(table) // 10  # table order: (phrasing, style) major, digit minor
    unet = build_digits_unet(encoder.embed_dim)
    optimizer, schedule = adamw_cosine(unet, config.learning_rate, config.steps)
    unet, optimizer = accelerator.prepare(unet, optimizer)
    noise_scheduler = DDPMScheduler.from_config(SCHEDULER_CONFIG)
    log, start = BaseModelTrainingLog(), time.perf_counter()
    unet.train()
    for _ in tqdm(range(config.steps), desc="base model", mininterval=5):
        pick = torch.randint(len(labels), (config.batch_size,))
        caption_idx = torch.randint(per_digit, (config.batch_size,)) * 10 + labels[pick]
        dropped = torch.rand(config.batch_size) < config.prompt_dropout
        caption_idx[dropped] = len(table)
        cond = embeds.index(caption_idx).to(accelerator.device)
        x0 = images[pick].to(accelerator.device)
        noise = torch.randn_like(x0)
        t = torch.randint(
            0, noise_scheduler.config.num_train_timesteps, (len(x0),), device=x0.device
        )
        pred = unet(
            noise_scheduler.add_noise(x0, noise, t),
            t,
            encoder_hidden_states=cond.prompt_embeds,
            encoder_attention_mask=cond.attention_mask,
        ).sample
        loss = F.mse_loss(pred, noise)
        accelerator.backward(loss)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        log.losses.append(loss.item())
    log.seconds = time.perf_counter() - start
    return accelerator.unwrap_model(unet).eval(), log
