"""Train a golden-noise model on noise sequences (NPNet, Sec. 3.4; sequence models alike).

Each model defines ``training_loss(sequence, cond)``; one-step models get (N, 2, C, H, W)
pairs [x_T, x'_1], sequence models (N, n+1, C, H, W). Accelerate runs the loop (CPU, one or
more GPUs, mixed precision via ``accelerate launch``), with a validation split, early stopping
on the validation loss (the best weights are kept) and tqdm progress.

Several processes (DDP) split each batch: ``batch_size`` is the global batch whatever the
number of processes, and each process weighs its share's loss so that the averaged gradient
is the whole batch's, so a config trains alike on one process or several. Every process holds
the same weights and the whole validation split; the logged losses are means over the
processes, so all of them take the same early-stopping decisions.

Reproducible: ``TrainingConfig.seed`` seeds the initialisation, the split, the batch order and
the randomness inside the loss; with the same data (in the same order), seed and torch CPU
threads a run gives the same weights. Timings stay in ``TrainingLog.seconds``, out of the
checkpoint.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from gn_models.backends.base import DiffusionBackend
from gn_models.golden_noise.base import GoldenNoiseModel
from gn_models.golden_noise.rollout import (
    RolloutChoice,
    RolloutSelection,
    ValidationSet,
    select_rollout,
)
from gn_models.rewards.base import RewardModel
from gn_models.types import PromptEmbeds
from gn_models.utils.finite import require_finite_loss
from gn_models.utils.training import adamw_cosine, make_accelerator
from gn_models.utils.validation import AT_LEAST_1, FRACTION, NON_NEGATIVE, require


@dataclass
class TrainingConfig:
    """Optimiser and early-stopping settings of every golden-noise model (each model may
    override defaults through its ``training_defaults``)."""

    steps: int = 1500  # maximum optimiser steps
    batch_size: int = 64
    learning_rate: float = 1e-3
    val_fraction: float = 0.1  # held-out sequences for the validation loss
    eval_every: int = 100  # steps between validation losses
    patience: int = 4  # stop after this many evaluations without improvement
    seed: int = 0  # initialisation, train/validation split, batch order, dropout, sampling

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a count below 1, a learning rate that is
        negative, NaN or Inf, or a validation fraction outside [0, 1)."""
        require(self, AT_LEAST_1, "steps", "batch_size", "eval_every", "patience")
        require(self, NON_NEGATIVE, "learning_rate")
        require(self, FRACTION, "val_fraction")


@dataclass
class TrainingLog:
    """Loss curves, the identity baseline (MSE of x'_k = x'_{k-1}) and the stopping point."""

    train_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    identity_val_loss: float = float("nan")
    best_val_loss: float = float("inf")
    best_step: int = 0
    stopped_early: bool = False
    num_train: int = 0
    num_val: int = 0
    num_processes: int = 1  # DDP processes that trained (not in the checkpoint)
    reward_steps: list[int] = field(default_factory=list)  # checkpoints scored by the filter
    reward_scores: list[float] = field(default_factory=list)  # their validation filter reward
    chosen_step: int = 0  # the kept checkpoint (best_step when chosen by MSE)
    rollout_rewards: dict = field(default_factory=dict)  # cfg -> {length: mean filter reward}
    seconds: float = 0.0

    def summary(self) -> dict[str, float | int]:
        """What a checkpoint records of its training: content only, no timings, so that
        retraining to the same weights writes the same files."""
        return {
            "best_val_loss": self.best_val_loss,
            "best_step": self.best_step,
            "identity_val_loss": self.identity_val_loss,
            "num_train": self.num_train,
            "num_val": self.num_val,
            "chosen_step": self.chosen_step or self.best_step,
            "validation_filter_reward": {
                str(step): score
                for step, score in zip(self.reward_steps, self.reward_scores, strict=True)
            },
            "rollout_rewards": self.rollout_rewards,
        }


def train_golden_model(
    model_class: type[GoldenNoiseModel],
    config,
    training: TrainingConfig,
    backend: DiffusionBackend,
    noise: np.ndarray,
    prompts: np.ndarray,
    device: str = "auto",
    labels: np.ndarray | None = None,
    reward: RewardModel | None = None,
    selection: RolloutSelection | None = None,
) -> tuple[GoldenNoiseModel, TrainingLog]:
    """Build ``model_class`` for this data (``from_data``) and train it.

    Args:
        config: the model's config dataclass (its data fields are set from the data).
        training: optimiser and early-stopping settings.
        backend: encodes the training prompts (prompt_embeds become float32) and, with a
            ``reward``, samples the validation images.
        noise: (N, n+1, C, H, W) float32 training sequences ([x_T, target] pairs for one-step
            models).
        prompts: (N,) str, the prompt of each sequence; labels: (N,) int64 (-1: none).
        reward, selection: the filter reward and how it chooses the rollout length per CFG
            scale and the checkpoint on the validation split (``gn_models.golden_noise.rollout``);
            None: the checkpoint with the best validation MSE, default rollout lengths.

    Returns:
        the trained model (eval mode, chosen weights and rollout lengths) and the training log.
    """
    texts, prompt_index = np.unique(prompts, return_inverse=True)  # texts sorted
    # The models read prompt_embeds and pooled only: a second encoder's states (Hunyuan-DiT's
    # mT5, ~2 MB per prompt) are not kept for the whole training set.
    embeds = PromptEmbeds(*backend.encode_prompts(list(texts)).float().astuple())
    torch.manual_seed(training.seed)  # the initialisation
    model = model_class.from_data(config, backend.latent_shape, embeds, noise.shape[1] - 1)
    select = None
    if reward is not None and selection is not None and selection.reward_every > 0:
        select = _rollout_selector(backend, reward, selection, noise, prompts, labels)
    log = train_noise_model(
        model,
        torch.from_numpy(noise),
        torch.from_numpy(prompt_index),
        embeds,
        training,
        device=device,
        select=select,
        reward_every=selection.reward_every if select else 0,
    )
    return model, log


def _rollout_selector(backend, reward, selection, noise, prompts, labels):
    """select(model, validation indices) -> RolloutChoice on the first ``reward_samples``
    validation sequences' first states (x_T; x'_{k-1} for ``transitions`` pairs), encoded once
    (the validation split is the same for every candidate)."""
    labels = np.full(len(prompts), -1) if labels is None else labels
    built: dict[str, ValidationSet] = {}

    def select(model: GoldenNoiseModel, val: torch.Tensor) -> RolloutChoice:
        if not built:
            rows = val[: selection.reward_samples].numpy()
            texts = [str(p) for p in prompts[rows]]
            built["set"] = ValidationSet(
                torch.from_numpy(noise[rows, 0]).to(backend.device, backend.dtype),
                backend.encode_prompts(texts),
                texts,
                [None if lab < 0 else int(lab) for lab in labels[rows]],
            )
        return select_rollout(model, backend, reward, built["set"], selection)

    return select


def train_noise_model(
    model: GoldenNoiseModel,
    sequences: torch.Tensor,
    prompt_index: torch.Tensor,
    embeds: PromptEmbeds,
    config: TrainingConfig,
    device: str = "auto",
    select: Callable[[GoldenNoiseModel, torch.Tensor], RolloutChoice] | None = None,
    reward_every: int = 0,
) -> TrainingLog:
    """Fit ``model`` on sequences (N, n+1, C, H, W) float32 with prompts ``embeds[prompt_index]``
    (prompt_index (N,) int64).

    ``config.seed`` seeds the split and the batch order (a generator of their own) and torch's
    global generators, which the loss draws from (dropout, NoiseTransformer's transition);
    under DDP those are seeded ``seed + process index``, so processes draw independently.

    Without ``select`` the weights with the best validation MSE are kept. With it, the
    weights every ``reward_every`` steps, at the end and at the best validation MSE are
    candidates: ``select(model, validation indices)`` scores each by the filter reward of its
    best rollouts, and the best candidate's weights and rollout lengths are kept.

    Under a multi-process launch every process must call this with the same arguments;
    each trains on its share of every batch (``config.batch_size`` is the global batch).

    Returns the log; ``model`` ends in eval mode with the chosen weights.

    Raises:
        ValueError: fewer than 2 sequences (no train/validation split possible).
    """
    if len(sequences) < 2:
        raise ValueError(
            f"Need at least 2 kept noise sequences to train and validate, got {len(sequences)}. "
            "Add prompts or seeds, or lower the keep margin."
        )
    accelerator = make_accelerator(device)
    torch.manual_seed(config.seed + accelerator.process_index)  # randomness inside the loss
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(sequences), generator=generator)
    n_val = max(1, round(config.val_fraction * len(sequences)))
    val, train = order[:n_val], order[n_val:]
    loader = DataLoader(  # not prepared: every process draws the same global batches
        TensorDataset(sequences[train], prompt_index[train]),
        batch_size=config.batch_size,
        shuffle=True,
        generator=generator,
    )
    optimizer, schedule = adamw_cosine(model, config.learning_rate, config.steps)
    wrapped, optimizer = accelerator.prepare(_TrainingLoss(model), optimizer)
    embeds = embeds.to(accelerator.device)
    val_seq = sequences[val].to(accelerator.device)
    val_cond = embeds.index(prompt_index[val].to(accelerator.device))
    log = TrainingLog(
        num_train=len(train),
        num_val=len(val),
        num_processes=accelerator.num_processes,
        identity_val_loss=F.mse_loss(val_seq[:, :-1], val_seq[:, 1:]).item(),
    )
    candidates = _Candidates(select, val, log)
    best_state, step, bad_evals = None, 0, 0
    start = time.perf_counter()
    progress = tqdm(
        total=config.steps,
        desc=f"train {model.kind}",
        mininterval=5,
        disable=not accelerator.is_main_process,
    )
    while step < config.steps and bad_evals < config.patience:
        for sequence, idx in loader:
            wrapped.train()
            rows, weight = _share(len(sequence), accelerator)
            cond = embeds.index(idx[rows].to(accelerator.device))
            loss = wrapped(sequence[rows].to(accelerator.device), *cond.astuple()) * weight
            accelerator.backward(loss)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            progress.update()
            log.train_steps.append(step)
            log.train_loss.append(_process_mean(accelerator, loss.item()))
            require_finite_loss(log.train_loss[-1], f"training {model.kind}", step)
            if step % config.eval_every == 0 or step == config.steps:
                log.val_steps.append(step)
                val_loss = _validation_loss(model, val_seq, val_cond)
                log.val_loss.append(_process_mean(accelerator, val_loss))
                if log.val_loss[-1] < log.best_val_loss:
                    log.best_val_loss, log.best_step, bad_evals = log.val_loss[-1], step, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    bad_evals += 1
            if reward_every and step % reward_every == 0:
                candidates.score(model, model.state_dict(), step)
            if step == config.steps or bad_evals >= config.patience:
                break
    progress.close()
    log.stopped_early = bad_evals >= config.patience
    if select is not None:
        candidates.score(model, model.state_dict(), step)
        if best_state is not None:
            candidates.score(model, best_state, log.best_step)
        best_state = candidates.best_state
        model.rollout_lengths = dict(candidates.best.lengths)
    log.seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return log


class _Candidates:
    """Checkpoints scored by the validation filter reward of their best rollouts."""

    def __init__(self, select, val: torch.Tensor, log: TrainingLog):
        self.select, self.val, self.log = select, val, log
        self.best: RolloutChoice | None = None
        self.best_state = None

    def score(self, model: GoldenNoiseModel, state: dict, step: int) -> None:
        if self.select is None or step in self.log.reward_steps:
            return
        current = copy.deepcopy(model.state_dict())
        model.load_state_dict(state)
        choice = self.select(model, self.val)
        model.load_state_dict(current)
        self.log.reward_steps.append(step)
        self.log.reward_scores.append(choice.score)
        if self.best is None or choice.score > self.best.score:
            self.best, self.best_state = choice, copy.deepcopy(state)
            self.log.chosen_step, self.log.rollout_rewards = step, choice.rewards


class _TrainingLoss(torch.nn.Module):
    """Routes ``training_loss`` through ``forward`` so DDP (multi-GPU) syncs its gradients."""

    def __init__(self, model: GoldenNoiseModel):
        super().__init__()
        self.model = model

    def forward(self, sequence, prompt_embeds, attention_mask, pooled) -> torch.Tensor:
        return self.model.training_loss(
            sequence, PromptEmbeds(prompt_embeds, attention_mask, pooled)
        )


def _share(batch_size: int, accelerator) -> tuple[slice, float]:
    """This process's rows of a global batch (contiguous; shares differ by one row at most)
    and the weight of its mean loss that makes DDP's mean over the processes the batch's mean
    loss (``training_loss`` is a mean over rows). A process left without rows takes the first
    with weight 0: DDP needs every process in every step."""
    world, rank = accelerator.num_processes, accelerator.process_index
    start, stop = rank * batch_size // world, (rank + 1) * batch_size // world
    if start == stop:
        return slice(0, 1), 0.0
    return slice(start, stop), (stop - start) * world / batch_size


def _process_mean(accelerator, value: float) -> float:
    """The mean of ``value`` over the processes (``value`` itself with one process)."""
    if accelerator.num_processes == 1:
        return value
    return accelerator.reduce(torch.tensor(value, device=accelerator.device), "mean").item()


@torch.no_grad()
def _validation_loss(
    model: GoldenNoiseModel, sequence: torch.Tensor, cond: PromptEmbeds, batch_size: int = 512
) -> float:
    model.eval()
    losses = [
        model.training_loss(
            sequence[i : i + batch_size], cond.index(slice(i, i + batch_size))
        ).item()
        * len(sequence[i : i + batch_size])
        for i in range(0, len(sequence), batch_size)
    ]
    return sum(losses) / len(sequence)
