import numpy as np
import pytest
import torch

from gn_models.golden_noise.base import GoldenNoiseModel
from gn_models.golden_noise.rollout import (
    RolloutChoice,
    RolloutSelection,
    ValidationSet,
    select_rollout,
)
from gn_models.golden_noise.training import TrainingConfig, train_noise_model
from gn_models.rewards.base import RewardModel
from gn_models.types import PromptEmbeds
from helpers.analytic_backend import AnalyticBackend


class Shift(GoldenNoiseModel):
    """One-step toy: x -> x + w (w a learnable scalar)."""

    kind = "shift"

    def __init__(self, w=0.3):
        super().__init__()
        self.config = None
        self.w = torch.nn.Parameter(torch.tensor(float(w)))

    def forward(self, x, cond):
        return x + self.w


class Closeness(RewardModel):
    """Reward: how close the image's mean brightness is to 0.8 (an interior optimum)."""

    name, version, score_range = "closeness", "test", (-1.0, 0.0)

    def score(self, images, prompts, labels):
        return -(images.float().mean(dim=(1, 2, 3)) - 0.8).abs()


def validation(backend, n=6):
    prompts = [f"prompt {i % 3}" for i in range(n)]
    return ValidationSet(
        backend.initial_noise(list(range(n))), backend.encode_prompts(prompts), prompts, [None] * n
    )


def test_the_rollout_length_per_cfg_scale_is_the_filter_s_best_and_ties_go_short():
    backend, reward = AnalyticBackend(), Closeness()
    val = validation(backend)
    selection = RolloutSelection(
        rollout_lengths=[1, 2, 3, 5, 8], cfg_scales=[5.5, 1.0], sampling_steps=4
    )
    choice = select_rollout(Shift(), backend, reward, val, selection)
    for cfg in (5.5, 1.0):
        expected = {}
        for length in (1, 2, 3, 5, 8):
            images = backend.generate(val.x_T + 0.3 * length, val.cond, cfg, 4)
            expected[length] = float(reward.score(images, val.texts, val.labels).mean())
            assert choice.rewards[f"{cfg:g}"][length] == pytest.approx(expected[length])
        best = max(expected.values())
        assert choice.lengths[f"{cfg:g}"] == min(n for n, r in expected.items() if r == best)
    assert 1 < choice.lengths["1"] < 8  # an interior optimum: the longest is not always best
    assert choice.score == pytest.approx(
        np.mean([choice.rewards[s][n] for s, n in choice.lengths.items()])
    )


def test_golden_noise_uses_the_chosen_length_per_cfg_scale():
    model = Shift(0.5)
    model.rollout_lengths = {"5.5": 1, "1": 3}
    x = torch.zeros(2, 1, 2, 2)
    cond = AnalyticBackend().encode_prompts(["a", "b"])
    assert model.golden_noise(x, cond, 5.5).unique().item() == pytest.approx(0.5)
    assert model.golden_noise(x, cond, 1.0).unique().item() == pytest.approx(1.5)
    assert model.golden_noise(x, cond, 2.0).unique().item() == pytest.approx(0.5)  # default 1
    assert model.golden_noise(x, cond).unique().item() == pytest.approx(0.5)


def test_training_keeps_the_checkpoint_with_the_best_validation_reward_not_the_best_mse():
    torch.manual_seed(0)
    x_T = torch.randn(40, 1, 2, 2)
    sequences = torch.stack([x_T, x_T + 2.0], dim=1)  # MSE wants w = 2
    pooled = torch.zeros(1, 2)
    embeds = PromptEmbeds(pooled[:, None], torch.ones(1, 1, dtype=torch.long), pooled)
    calls = []

    def select(model, val):  # the filter prefers small shifts: w closest to 0.5
        calls.append(model.w.item())
        score = -abs(model.w.item() - 0.5)
        return RolloutChoice({"1": 2}, score, {"1": {1: score}})

    model = Shift(0.0)
    config = TrainingConfig(steps=60, batch_size=8, learning_rate=0.05, eval_every=10, patience=99)
    log = train_noise_model(
        model,
        sequences,
        torch.zeros(40, dtype=torch.long),
        embeds,
        config,
        device="cpu",
        select=select,
        reward_every=20,
    )
    assert log.reward_steps[:3] == [20, 40, 60] and len(log.reward_steps) == len(calls)
    best = int(np.argmax(log.reward_scores))
    assert log.chosen_step == log.reward_steps[best]
    assert model.w.item() == pytest.approx(calls[best])  # the chosen weights were restored
    assert log.best_step != log.chosen_step  # MSE alone would have kept other weights
    assert model.rollout_lengths == {"1": 2}
    assert log.summary()["chosen_step"] == log.chosen_step
