"""Train the digits base model: epsilon-prediction DDPM loss (Ho et al. 2020, eq. 14) on
captioned 8x8 digits, with prompt dropout for classifier-free guidance."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from tqdm.auto import tqdm

from gn_models.digits.backend import SCHEDULER_CONFIG, DigitsBackend, build_digits_unet
from gn_models.digits.data import TRAIN_PHRASINGS, captions
from gn_models.text_encoder import MiniLMTextEncoder
from gn_models.training import adamw_cosine, make_accelerator


@dataclass
class BaseModelTrainingConfig:
    steps: int = 800  # optimiser steps
    batch_size: int = 128
    learning_rate: float = 2e-3
    prompt_dropout: float = 0.1  # probability of training on the empty prompt (for CFG)
    seed: int = 0


@dataclass
class TrainingLog:
    """Per-step training losses (float) and wall time in seconds."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_digits_base_model(
    images: torch.Tensor,
    labels: torch.Tensor,
    encoder: MiniLMTextEncoder,
    config: BaseModelTrainingConfig,
    device: str = "auto",
) -> tuple[DigitsBackend, TrainingLog]:
    """Train a UNet2DConditionModel on digits with captions from TRAIN_PHRASINGS x STYLES.

    Args:
        images: (N, 1, 8, 8) float32 in [-1, 1].
        labels: (N,) int64 digits 0..9.
        encoder: frozen MiniLM encoder (its prompt_embeds are the cross-attention context).
        config: steps, batch size, learning rate, prompt dropout, seed.

    Returns:
        the trained backend (eval mode) and the loss log.
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
    log, start = TrainingLog(), time.perf_counter()
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
    unet = accelerator.unwrap_model(unet).eval()
    return DigitsBackend(unet, encoder, accelerator.device), log
