"""Small NPNets and the released checkpoint layout for the NPNet tests."""

import torch

from gn_models.golden_noise.npnet import NPNet, NPNetConfig
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
