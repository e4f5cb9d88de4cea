import pytest
import torch
from huggingface_hub.errors import LocalEntryNotFoundError

from gn_models.golden_noise.npnet import (
    ConvResidual,
    NPNet,
    NPNetConfig,
    load_official_npnet,
    tile_grid,
)
from gn_models.types import PromptEmbeds


def cond(batch, tokens=3, dim=8):
    embeds = torch.randn(batch, tokens, dim)
    return PromptEmbeds(embeds, torch.ones(batch, tokens, dtype=torch.long), embeds.mean(1))


def small(channels=1, height=8, width=8, **kw):
    return NPNetConfig(
        channels=channels,
        height=height,
        width=width,
        prompt_tokens=3,
        embed_dim=8,
        svd_dim=16,
        svd_hidden=8,
        svd_out_hidden=16,
        svd_heads=4,
        conv_hidden=8,
        **kw,
    )


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


def official_layout(model: NPNet, text_key="embeeding") -> dict:
    """A state dict in the released .pth layout, built from a model of ours."""
    svd = {k: v.clone() for k, v in model.unet_svd.state_dict().items()}
    svd |= {
        "bn.weight": torch.ones(16),
        "bn.bias": torch.zeros(16),
        "bn.running_mean": torch.zeros(16),
        "bn.running_var": torch.ones(16),
        "bn.num_batches_tracked": torch.tensor(0),
    }
    return {
        "unet_svd": svd,
        "unet_embedding": model.unet_embedding.state_dict(),
        text_key: model.text_embedding.state_dict(),
        "alpha": torch.tensor([0.7]),
        "beta": torch.tensor([0.2]),
    }


@pytest.mark.parametrize("text_key", ["embeeding", "embedding"])
def test_official_checkpoint_loader(text_key):
    source = NPNet(small(4, 8, 8))
    loaded = load_official_npnet(official_layout(source, text_key), small(4, 8, 8))
    assert loaded.alpha.item() == pytest.approx(0.7) and loaded.beta.item() == pytest.approx(0.2)
    with torch.no_grad():
        source.alpha.fill_(0.7)
        source.beta.fill_(0.2)
    x, c = torch.randn(2, 4, 8, 8), cond(2)
    torch.testing.assert_close(loaded(x, c), source.eval()(x, c))


def test_official_loader_errors():
    checkpoint = official_layout(NPNet(small(4, 8, 8)))
    with pytest.raises(ValueError, match=r"text_embedding.linear.weight has shape"):
        load_official_npnet(
            checkpoint, NPNetConfig(**{**small(4, 8, 8).__dict__, "prompt_tokens": 5})
        )
    del checkpoint["alpha"]
    with pytest.raises(KeyError, match="missing keys"):
        load_official_npnet(checkpoint, small(4, 8, 8))


def test_sdxl_width_official_layout_loads():
    """SDXL: 4x128x128 latents, 77 x 2048 embeddings, reference widths (conv residual here)."""
    config = NPNetConfig(channels=4, height=128, width=128, prompt_tokens=77, embed_dim=2048)
    model = NPNet(config)
    assert model.unet_svd.mlp1[0].in_features == 256 and model.unet_svd.mlp4[-1].out_features == 256
    assert model.text_embedding.linear.in_features == 77 * 2048
    loaded = load_official_npnet(official_layout(model), config)  # unused bn.* is skipped
    assert loaded.text_embedding.linear.weight.shape == (8, 77 * 2048)


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
