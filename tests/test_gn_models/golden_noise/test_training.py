import torch

from gn_models.golden_noise.film_noise_net import FiLMNoiseNet, FiLMNoiseNetConfig
from gn_models.golden_noise.training import TrainingConfig, train_noise_model
from gn_models.types import PromptEmbeds


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
    model = FiLMNoiseNet(FiLMNoiseNetConfig(channels=1, embed_dim=2, hidden=8, num_blocks=1))
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
