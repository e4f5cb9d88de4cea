import pytest
import torch
from huggingface_hub.errors import LocalEntryNotFoundError

from gn_models.golden_noise.npnet import (
    ConvResidual,
    NPNet,
    NPNetConfig,
    tile_grid,
)
from helpers.npnet import cond, small


@pytest.mark.parametrize("shape", [(1, 8, 8), (4, 16, 16), (4, 12, 20), (3, 6, 10)])
def test_shapes_at_several_latent_sizes(shape):
    model = NPNet(small(*shape))
    x = torch.randn(2, *shape)
    assert model(x, cond(2)).shape == x.shape


def test_tiling_round_trip_and_reference_layout():
    assert tile_grid(4) == (2, 2) and tile_grid(1) == (1, 1) and tile_grid(3) == (1, 3)
    branch = NPNet(small(4, 6, 10)).unet_svd
    x = torch.randn(2, 4, 6, 10)
    tiled = branch.tile(x)
    assert tiled.shape == (2, 12, 20)
    torch.testing.assert_close(tiled[:, 6:, :10], x[:, 2])  # channel 2 sits bottom-left
    torch.testing.assert_close(branch.untile(tiled, 6, 10), x)


def test_untrained_npnet_is_svd_branch_and_identity_with_unchanged_singular_values():
    model = NPNet(small(4, 12, 20)).eval()
    x, c = torch.randn(3, 4, 12, 20), cond(3)
    assert model.alpha.item() == 0 and model.beta.item() == 0
    torch.testing.assert_close(model(x, c), model.unet_svd(x))
    torch.nn.init.zeros_(model.unet_svd.mlp4[-1].weight)  # s' = s
    torch.nn.init.zeros_(model.unet_svd.mlp4[-1].bias)
    torch.testing.assert_close(model(x, c), x, atol=1e-4, rtol=1e-4)


def test_each_sample_uses_its_own_prompt():
    model = NPNet(small())
    with torch.no_grad():
        model.alpha.fill_(1.0)
    x = torch.randn(1, 1, 8, 8).repeat(2, 1, 1, 1)
    out = model(x, cond(2))
    assert not torch.allclose(out[0], out[1])  # same noise, different prompts


def test_gradients_reach_every_parameter():
    model = NPNet(small())
    with torch.no_grad():
        model.alpha.fill_(0.5)
        model.beta.fill_(0.5)
    model(torch.randn(2, 1, 8, 8), cond(2)).pow(2).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_save_load_round_trip(tmp_path):
    model = NPNet(small())
    with torch.no_grad():
        model.beta.fill_(0.3)
    model.save(tmp_path / "ckpt")
    loaded = NPNet.load(tmp_path / "ckpt")
    x, c = torch.randn(2, 1, 8, 8), cond(2)
    torch.testing.assert_close(loaded(x, c), model.eval()(x, c))


def test_the_residual_is_explicit_and_auto_is_an_error():
    assert NPNetConfig().residual == "conv" and NPNetConfig.published().residual == "swin_t"
    assert isinstance(NPNet(small()).unet_embedding, ConvResidual)
    with pytest.raises(ValueError, match="'auto' was removed"):
        NPNet(small(residual="auto"))


def test_swin_t_without_its_weights_says_how_to_get_them(monkeypatch):
    timm = pytest.importorskip("timm")

    def offline(name, pretrained):
        raise LocalEntryNotFoundError("not in the local cache")

    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(FileNotFoundError, match=r"pretrained=True.*or use residual='conv'"):
        NPNet.from_data(small(residual="swin_t"), (1, 8, 8), cond(1), 1)
