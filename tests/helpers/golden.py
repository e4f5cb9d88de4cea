"""A golden-noise checkpoint of ours for the tiny SDXL pipeline (tests/helpers/tiny_pipelines)."""

from pathlib import Path

import torch

from gn_models.golden_noise.npnet import NPNet, NPNetConfig
from helpers.tiny_pipelines import SIZES


def save_tiny_sdxl_npnet(folder: str | Path, seed: int = 0) -> NPNet:
    """An NPNet for the tiny SDXL (x_T 4x8x8, prompt_embeds 77x96) with alpha and beta away
    from 0 (not the identity), saved in ``folder`` as the golden_noise assets save it."""
    torch.manual_seed(seed)
    config = NPNetConfig(4, 8, 8, 77, sum(SIZES["sdxl_hidden"]), svd_dim=16, svd_heads=4)
    model = NPNet(config)
    with torch.no_grad():
        model.alpha.fill_(1.0)
        model.beta.fill_(0.5)
    model.save(folder)
    return model.eval()
