import copy
import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gn_models.golden_noise import training
from gn_models.golden_noise.film_noise_net import FiLMNoiseNet, FiLMNoiseNetConfig
from gn_models.golden_noise.noise_transformer import NoiseTransformer, NoiseTransformerConfig
from gn_models.golden_noise.registry import MODEL_CLASSES
from gn_models.golden_noise.training import TrainingConfig, train_golden_model, train_noise_model
from gn_models.types import PromptEmbeds
from gn_models.utils.digest import digest_tree
from gn_models.utils.finite import NonFiniteError
from helpers.analytic_backend import AnalyticBackend


def toy_data(n=64):
    """x'_1 = x_T + 0.5 * (prompt sign): learnable from the pooled embedding."""
    torch.manual_seed(0)
    pooled = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    embeds = PromptEmbeds(pooled[:, None], torch.ones(2, 1, dtype=torch.long), pooled)
    index = torch.arange(n) % 2
    x_T = torch.randn(n, 1, 4, 4)
    target = x_T + 0.5 * pooled[index, 0][:, None, None, None]
    return torch.stack([x_T, target], dim=1), index, embeds


def train(**config):
    sequences, index, embeds = toy_data()
    config_ = FiLMNoiseNetConfig(channels=1, embed_dim=2, hidden=8, num_blocks=1, renormalize=False)
    model = FiLMNoiseNet(config_)
    config = TrainingConfig(batch_size=16, **config)
    return model, train_noise_model(model, sequences, index, embeds, config, device="cpu")


def test_training_beats_identity_and_keeps_best_weights():
    model, log = train(steps=150, learning_rate=3e-3, eval_every=10, patience=100)
    assert log.identity_val_loss > 0.2 and log.best_val_loss < 0.1 * log.identity_val_loss
    assert log.num_train + log.num_val == 64 and not model.training
    assert min(log.val_loss) == log.best_val_loss


def test_early_stopping_stops_when_validation_stalls():
    _, log = train(steps=2000, learning_rate=0.0, eval_every=5, patience=2)
    assert log.stopped_early and log.train_steps[-1] == 15  # best at 5, then 2 bad evaluations


def fake_clock(step: float):
    """A stand-in for the ``time`` module whose perf_counter advances ``step`` s per call."""
    return SimpleNamespace(perf_counter=itertools.count(0.0, step).__next__)


@pytest.mark.parametrize(
    "kind, config",
    [
        ("npnet", {"svd_dim": 8, "svd_hidden": 8, "svd_out_hidden": 8, "conv_hidden": 4}),
        ("noise_transformer", {"dim": 8, "depth": 1, "heads": 2}),  # draws in its loss
    ],
)
def test_retraining_gives_the_same_checkpoint_digest_whatever_the_train_time(
    tmp_path, monkeypatch, kind, config
):
    """Same data and seed -> same checkpoint bytes (the data version), though the training
    took another time and the global RNG was elsewhere; another seed -> another digest."""
    cls = MODEL_CLASSES.get(kind)
    noise = np.random.default_rng(0).standard_normal((12, 3, 1, 6, 10), dtype=np.float32)
    prompts = np.array([f"prompt {i % 3}" for i in range(12)])

    def retrain(seed: int, seconds_per_tick: float, seed_before: int) -> tuple[str, float]:
        monkeypatch.setattr(training, "time", fake_clock(seconds_per_tick))
        torch.manual_seed(seed_before)  # whatever ran before left the global RNG elsewhere
        model, log = train_golden_model(
            cls,
            cls.config_class(**config),
            TrainingConfig(steps=6, batch_size=4, eval_every=3, seed=seed),
            AnalyticBackend(),
            noise[:, :2] if cls.one_step else noise,
            prompts,
            device="cpu",
        )
        folder = tmp_path / f"{seed}-{seconds_per_tick}-{seed_before}"
        model.save(folder, training=log.summary())
        return digest_tree(folder), log.seconds

    first, again, other_seed = retrain(0, 1.0, 10), retrain(0, 7.0, 20), retrain(1, 1.0, 10)
    assert first[1] != again[1]
    assert first[0] == again[0] != other_seed[0]


def test_train_noise_model_seeds_the_randomness_inside_the_loss():
    """NoiseTransformer draws a transition per sequence in its loss: the same model trained
    twice from different global RNG states ends with the same weights."""
    embeds = AnalyticBackend().encode_prompts(["a", "bb", "ccc"])  # prompt_embeds (3, 3, 2)
    sequences = torch.randn(12, 3, 1, 6, 10, generator=torch.Generator().manual_seed(0))
    config = NoiseTransformerConfig(channels=1, embed_dim=2, dim=8, depth=1, heads=2, num_steps=2)
    untrained = NoiseTransformer(config)
    states = []
    for seed_before in (1, 2):
        model = copy.deepcopy(untrained)
        torch.manual_seed(seed_before)
        training_config = TrainingConfig(steps=4, batch_size=4, eval_every=2)
        train_noise_model(model, sequences, torch.arange(12) % 3, embeds, training_config, "cpu")
        states.append(model.state_dict())
    torch.testing.assert_close(states[0], states[1], rtol=0, atol=0)


def test_a_non_finite_loss_stops_training_naming_the_model_and_step():
    sequences, index, embeds = toy_data()
    sequences[5, 1, 0, 0, 0] = float("inf")  # one target diverged
    model = FiLMNoiseNet(FiLMNoiseNetConfig(channels=1, embed_dim=2, hidden=8, num_blocks=1))
    config = TrainingConfig(batch_size=64, steps=3, val_fraction=0.05)
    with pytest.raises(NonFiniteError, match=r"training film_noise_net: .* is (inf|nan) at step 1"):
        train_noise_model(model, sequences, index, embeds, config, device="cpu")
