"""Released NPNet checkpoints: the .pth layout, the built-in family configs, weights_only
reading, and files saved with an older timm (Swin-T buffers, patch merging one stage early)."""

import re

import pytest
import torch

from gn_models.golden_noise.npnet import NPNet, NPNetConfig
from gn_models.golden_noise.released_npnet import (
    load_official_npnet,
    load_released_npnet,
    released_config,
)
from helpers.npnet import cond, official_layout, small


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


def released_file(tmp_path, model: NPNet, old_timm: bool) -> str:
    """``model`` saved as a released .pth file; ``old_timm``: as timm 0.6 saved Swin-T (its
    non-persistent buffers included, each patch merging under the previous stage, head.*)."""
    layout = official_layout(model)
    if old_timm:
        swin = model.unet_embedding.swin
        state = {k: v for k, v in swin.state_dict().items()}
        state |= {k: v.clone() for k, v in swin.named_buffers()}  # attn_mask, rel. pos. index
        old = {}
        for key, value in state.items():
            key = re.sub(
                r"layers\.(\d+)\.downsample", lambda m: f"layers.{int(m[1]) - 1}.downsample", key
            )
            old[key.replace("head.fc.", "head.")] = value
        layout["unet_embedding"] = {
            **{k: v for k, v in layout["unet_embedding"].items() if not k.startswith("swin.")},
            **{f"swin.{k}": v for k, v in old.items()},
        }
    path = tmp_path / "npnet.pth"
    torch.save(layout, path)
    return path


@pytest.fixture(scope="module")
def sdxl_npnet():
    """A random NPNet of the released SDXL architecture (Swin-T residual, ~30M parameters)."""
    torch.manual_seed(0)
    model = NPNet(released_config("sdxl")).eval()
    with torch.no_grad():
        model.alpha.fill_(0.7)
        model.beta.fill_(0.2)
    return model


@pytest.mark.parametrize("old_timm", [False, True])
def test_released_file_loads_with_current_and_old_timm_layouts(tmp_path, sdxl_npnet, old_timm):
    path = released_file(tmp_path, sdxl_npnet, old_timm)
    if old_timm:
        keys = torch.load(path, weights_only=True)["unet_embedding"]
        assert any(k.endswith("attn_mask") for k in keys)
        assert "swin.layers.0.downsample.reduction.weight" in keys
    loaded = load_released_npnet(path, "SDXL")  # the reference's name works too
    x, c = torch.randn(1, 4, 128, 128), cond(1, tokens=77, dim=2048)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, c), sdxl_npnet(x, c))


def test_family_configs_and_a_file_of_another_family(tmp_path, sdxl_npnet):
    assert released_config("dreamshaper") == released_config("sdxl")
    assert released_config("DiT").embed_dim == 1024 == released_config("hunyuan-dit").embed_dim
    with pytest.raises(ValueError, match=r"Unknown released NPNet family 'sd15'.*hunyuan-dit"):
        released_config("sd15")
    path = released_file(tmp_path, sdxl_npnet, old_timm=False)
    with pytest.raises(ValueError, match=r"text_embedding.linear.weight has shape"):
        load_released_npnet(path, "hunyuan-dit")  # 77 x 2048 weights, 77 x 1024 expected


def test_files_that_are_not_plain_tensor_dicts_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="Download the released file"):
        load_released_npnet(tmp_path / "missing.pth", "sdxl")
    pickled = tmp_path / "code.pth"
    torch.save({"unet_svd": NPNetConfig()}, pickled)  # an object: weights_only refuses it
    with pytest.raises(ValueError, match="weights_only=True refused"):
        load_released_npnet(pickled, "sdxl")
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(ValueError, match="holds a list, not an NPNet dict"):
        load_released_npnet(listed, "sdxl")
