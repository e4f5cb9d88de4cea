"""Golden-noise checkpoints of ours for the tiny pipelines (tests/helpers/tiny_*pipelines)."""

from pathlib import Path

import torch

from gn_models.backends.pipelines import backend_for_pipeline
from gn_models.golden_noise.npnet import NPNet, NPNetConfig
from helpers.tiny_pipelines import SIZES

SMALL = {"svd_dim": 16, "svd_heads": 4}  # a small SVD branch for tiny latents


def _distinct(model: NPNet, folder: str | Path) -> NPNet:
    """``model`` with alpha and beta away from 0 (not the identity), saved in ``folder`` as
    the golden_noise assets save it."""
    with torch.no_grad():
        model.alpha.fill_(1.0)
        model.beta.fill_(0.5)
    model.save(folder)
    return model.eval()


def save_tiny_sdxl_npnet(folder: str | Path, seed: int = 0) -> NPNet:
    """An NPNet for the tiny SDXL (x_T 4x8x8, prompt_embeds 77x96), saved in ``folder``."""
    torch.manual_seed(seed)
    config = NPNetConfig(4, 8, 8, 77, sum(SIZES["sdxl_hidden"]), **SMALL)
    return _distinct(NPNet(config), folder)


def save_npnet_for(pipe, folder: str | Path, seed: int = 0) -> NPNet:
    """An NPNet built for ``pipe``'s x_T and prompt_embeds at its default size, saved."""
    backend = backend_for_pipeline(pipe)
    embeds = backend.encode_prompts(["a cat"])
    torch.manual_seed(seed)
    model = NPNet.from_data(NPNetConfig(**SMALL), backend.latent_shape, embeds, 1)
    return _distinct(model, folder)
