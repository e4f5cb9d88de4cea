"""Train a golden-noise model on NPD pairs with MSE(model(x_T, c), x'_T) (NPNet, Sec. 3.4)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from gn_models.text_encoder import PromptEmbeds
from gn_models.training import adamw_cosine, make_accelerator


@dataclass
class NoiseModelTrainingConfig:
    steps: int = 1500  # optimiser steps
    batch_size: int = 64
    learning_rate: float = 1e-3
    val_fraction: float = 0.1  # held-out pairs for the validation loss
    eval_every: int = 100  # steps between validation losses
    seed: int = 0


@dataclass
class NoiseModelTrainingLog:
    """Loss curves (MSE per element) and the identity baseline MSE(x_T, x'_T) on validation."""

    train_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    identity_val_loss: float = float("nan")
    num_train: int = 0
    num_val: int = 0
    seconds: float = 0.0


def train_noise_model(
    model: torch.nn.Module,
    x_T: torch.Tensor,
    x_golden: torch.Tensor,
    prompt_index: torch.Tensor,
    embeds: PromptEmbeds,
    config: NoiseModelTrainingConfig,
    device: str = "auto",
) -> NoiseModelTrainingLog:
    """Fit ``model`` so that model(x_T, c) ~ x'_T, through accelerate.

    Args:
        model: maps (B, C, H, W) noise and PromptEmbeds (B rows) to (B, C, H, W).
        x_T, x_golden: (N, C, H, W) float32 pairs (the kept NPD rows).
        prompt_index: (N,) int64 row of each pair's prompt in ``embeds``.
        embeds: embeddings of the distinct prompts (P rows).
        config: steps, batch size, learning rate, validation split.

    Returns:
        the loss log; ``model`` is trained in place and left in eval mode on its device.

    Raises:
        ValueError: fewer than 2 pairs (no train/validation split possible).
    """
    if len(x_T) < 2:
        raise ValueError(
            f"Need at least 2 kept noise pairs to train and validate, got {len(x_T)}. "
            "Add prompts or seeds, or lower the keep margin."
        )
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(x_T), generator=generator)
    n_val = max(1, round(config.val_fraction * len(x_T)))
    val, train = order[:n_val], order[n_val:]
    accelerator = make_accelerator(device)
    loader = DataLoader(TensorDataset(x_T[train], x_golden[train], prompt_index[train]),
                        batch_size=config.batch_size, shuffle=True, drop_last=False,
                        generator=generator)
    optimizer, schedule = adamw_cosine(model, config.learning_rate, config.steps)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    embeds = embeds.to(accelerator.device)
    val_batch = (x_T[val].to(accelerator.device), x_golden[val].to(accelerator.device),
                 embeds.index(prompt_index[val].to(accelerator.device)))
    log = NoiseModelTrainingLog(num_train=len(train), num_val=len(val),
                                identity_val_loss=F.mse_loss(x_T[val], x_golden[val]).item())
    start, step = time.perf_counter(), 0
    progress = tqdm(total=config.steps, desc="golden-noise model", mininterval=5)
    while step < config.steps:
        for noise, target, idx in loader:
            model.train()
            loss = F.mse_loss(model(noise, embeds.index(idx)), target)
            accelerator.backward(loss)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            progress.update()
            log.train_steps.append(step)
            log.train_loss.append(loss.item())
            if step % config.eval_every == 0 or step == config.steps:
                log.val_steps.append(step)
                log.val_loss.append(_validation_loss(model, *val_batch))
            if step == config.steps:
                break
    progress.close()
    log.seconds = time.perf_counter() - start
    accelerator.unwrap_model(model).eval()
    return log


@torch.no_grad()
def _validation_loss(model, x_T, x_golden, cond) -> float:
    model.eval()
    return F.mse_loss(model(x_T, cond), x_golden).item()
