import pytest
import torch

from gn_models.golden_noise.film_noise_net import FiLMNoiseNet, FiLMNoiseNetConfig
from gn_models.types import PromptEmbeds


def cond(batch, dim=16):
    pooled = torch.randn(batch, dim)
    return PromptEmbeds(pooled[:, None], torch.ones(batch, 1, dtype=torch.long), pooled)


@pytest.mark.parametrize("shape", [(1, 8, 8), (4, 16, 24), (4, 9, 5)])
def test_identity_at_init_and_shapes(shape):
    model = FiLMNoiseNet(
        FiLMNoiseNetConfig(channels=shape[0], embed_dim=16, hidden=16, num_blocks=2)
    )
    x = torch.randn(3, *shape)
    torch.testing.assert_close(model(x, cond(3)), x)  # zero-initialised output conv


def test_gradients_flow_and_save_load(tmp_path):
    model = FiLMNoiseNet(FiLMNoiseNetConfig(channels=1, embed_dim=16, hidden=16, num_blocks=2))
    x, c = torch.randn(4, 1, 8, 8), cond(4)
    loss = (model(x, c) - torch.randn_like(x)).pow(2).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    torch.nn.init.normal_(model.conv_out.weight)  # make the output depend on the weights
    model.save(tmp_path / "ckpt", note="x")
    loaded = FiLMNoiseNet.load(tmp_path / "ckpt")
    torch.testing.assert_close(loaded(x, c), model.eval()(x, c))
    with pytest.raises(FileNotFoundError, match="Materialize the model"):
        FiLMNoiseNet.load(tmp_path / "missing")
