import pytest
import torch

from gn_models.golden_noise.noise_gru import (
    NoiseGRU,
    NoiseGRUConfig,
    gaussian_kl_to_standard,
)
from gn_models.golden_noise.noise_transformer import (
    NoiseTransformer,
    NoiseTransformerConfig,
)
from gn_models.golden_noise.registry import load_golden_model
from gn_models.types import PromptEmbeds


def cond(batch, tokens=3, dim=8):
    embeds = torch.randn(batch, tokens, dim)
    mask = torch.ones(batch, tokens, dtype=torch.long)
    mask[:, -1] = 0  # a padding token
    return PromptEmbeds(embeds, mask, embeds.mean(1))


def transformer(channels=1, steps=3):
    return NoiseTransformer(
        NoiseTransformerConfig(
            channels=channels, embed_dim=8, dim=16, depth=1, heads=2, num_steps=steps
        )
    )


def gru(channels=1, steps=3, **kw):
    return NoiseGRU(
        NoiseGRUConfig(
            channels=channels, embed_dim=8, hidden=8, num_blocks=1, gru_dim=8, num_steps=steps, **kw
        )
    )


MODELS = [
    transformer,
    gru,
    lambda c, s: gru(c, s, predict_variance=True),
    lambda c, s: gru(c, s, residual=False),
]


@pytest.mark.parametrize("build", MODELS)
@pytest.mark.parametrize("shape", [(1, 8, 8), (4, 6, 10)])
def test_shapes_and_sequence_length(build, shape):
    model = build(shape[0], 3)
    x = torch.randn(2, *shape)
    c = cond(2)
    sequence = model.generate_sequence(x, c, num_steps=5)
    assert sequence.shape == (2, 6, *shape)
    torch.testing.assert_close(sequence[:, 0], x)
    assert model(x, c).shape == x.shape


@pytest.mark.parametrize("build", MODELS)
def test_training_loss_gradients_flow(build):
    model = build(1, 3)
    with torch.no_grad():  # move off the zero-initialised output so every gradient is live
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    loss = model.training_loss(torch.randn(4, 4, 1, 8, 8), cond(4))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters())


def test_untrained_residual_models_are_identity():
    x, c = torch.randn(2, 1, 8, 8), cond(2)
    torch.testing.assert_close(transformer()(x, c), x)
    torch.testing.assert_close(gru()(x, c), x)


def test_transformer_rejects_latents_not_divisible_by_patch():
    with pytest.raises(ValueError, match="not divisible by patch_size=2"):
        transformer()(torch.randn(1, 1, 7, 8), cond(1))


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zeros = torch.zeros(3, 1, 4, 4)
    assert gaussian_kl_to_standard(zeros, zeros).item() == pytest.approx(0.0, abs=1e-7)
    assert gaussian_kl_to_standard(zeros + 0.5, zeros).item() > 0
    assert gaussian_kl_to_standard(zeros, zeros + 0.5).item() > 0


def test_sampling_uses_the_variance_and_mean_is_deterministic():
    model = gru(predict_variance=True)
    with torch.no_grad():
        model.conv_out.bias.fill_(0.1)
    x, c = torch.randn(2, 1, 8, 8), cond(2)
    mean_a, mean_b = model.generate_sequence(x, c), model.generate_sequence(x, c)
    torch.testing.assert_close(mean_a, mean_b)
    draw = model.generate_sequence(x, c, sample=True, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(draw, mean_a)


@pytest.mark.parametrize("build", [transformer, gru])
def test_save_load_round_trip_through_registry(build, tmp_path):
    model = build(1, 3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.save(tmp_path / "ckpt", note="x")
    loaded = load_golden_model(tmp_path / "ckpt")
    assert type(loaded) is type(model)
    x, c = torch.randn(2, 1, 8, 8), cond(2)
    torch.testing.assert_close(loaded(x, c), model.eval()(x, c))


def test_transformer_eval_loss_covers_every_transition():
    model = transformer().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    sequence, c = torch.randn(3, 4, 1, 8, 8), cond(3)
    expected = torch.stack([
        torch.nn.functional.mse_loss(model.transition(sequence[:, k - 1], c, k), sequence[:, k])
        for k in range(1, 4)
    ]).mean()  # fmt: skip
    torch.testing.assert_close(model.training_loss(sequence, c), expected)
