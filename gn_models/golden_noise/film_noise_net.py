"""FiLMNoiseNet: a small conditional conv net that maps x_T to golden noise x'_T.

A first golden-noise model (the faithful NPNet comes with its SVD and residual branches):
golden = x_T + f(x_T, c), where f is a conv ResNet whose GroupNorm outputs are modulated by
FiLM (Perez et al. 2018) from the pooled prompt embedding c. The output conv starts at zero,
so an untrained model returns x_T unchanged (as NPNet starts from SVD(x_T) with alpha = beta
= 0). Fully convolutional: any latent size, square or not.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gn_models.golden_noise.base import GoldenNoiseModel
from gn_models.types import PromptEmbeds
from gn_models.utils.validation import AT_LEAST_0, AT_LEAST_1, multiple_of, require

NORM_GROUPS = 8  # GroupNorm groups of a FiLM block: its width is a multiple of them


@dataclass
class FiLMNoiseNetConfig:
    channels: int = 1  # latent channels C (digits: 1, SDXL: 4); set from data
    embed_dim: int = 384  # width of the pooled prompt embedding (MiniLM: 384); set from data
    hidden: int = 32  # conv width (32 x 2 blocks: ~0.4% of a 10-step digits sample's time)
    num_blocks: int = 2  # FiLM residual blocks
    renormalize: bool = True  # rescale the output to ||x_T|| (golden noise on the shell)

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a width below 1, ``hidden`` not a multiple
        of NORM_GROUPS, or a negative block count."""
        require(self, AT_LEAST_1, "channels", "embed_dim")
        require(self, multiple_of(NORM_GROUPS, "the GroupNorm groups"), "hidden")
        require(self, AT_LEAST_0, "num_blocks")


class FiLMBlock(nn.Module):
    """GroupNorm -> FiLM(scale, shift from c) -> SiLU -> 3x3 conv, with a skip connection."""

    def __init__(self, hidden: int, embed_dim: int):
        super().__init__()
        self.norm = nn.GroupNorm(NORM_GROUPS, hidden, affine=False)
        self.film = nn.Linear(embed_dim, 2 * hidden)
        self.conv = nn.Conv2d(hidden, hidden, 3, padding=1)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(c)[:, :, None, None].chunk(2, dim=1)  # (B, hidden, 1, 1)
        return h + self.conv(nn.functional.silu(self.norm(h) * (1 + scale) + shift))


class FiLMNoiseNet(GoldenNoiseModel):
    """FiLMNoiseNet: a small conv net with FiLM on the pooled prompt embedding, trained with
    MSE on kept one-step pairs (x_T, x'_1); a baseline for NPNet.

    x_T (B, C, H, W) float32 + prompt embeddings (pooled (B, D)) -> golden noise x'_T
    (B, C, H, W).
    """

    kind = "film_noise_net"
    config_class = FiLMNoiseNetConfig
    data_fields = ("channels", "embed_dim")
    # a later renormalized chain state (x'_5, the last of the default chain) teaches more
    # than x'_1; applied once: twice pleased the filter but cost realism and the judge's
    # gain at CFG 2 (docs/method-and-results.md); the filter still picks the checkpoint
    training_defaults = {"target_state": 5, "rollout_lengths": [1], "steps": 1000}

    @classmethod
    def data_values(cls, latent_shape, embeds, num_redenoise) -> dict[str, int]:
        return {"channels": latent_shape[0], "embed_dim": embeds.pooled.shape[1]}

    def __init__(self, config: FiLMNoiseNetConfig):
        super().__init__()
        self.config = config
        self.conv_in = nn.Conv2d(config.channels, config.hidden, 3, padding=1)
        self.blocks = nn.ModuleList(
            FiLMBlock(config.hidden, config.embed_dim) for _ in range(config.num_blocks)
        )
        self.conv_out = nn.Conv2d(config.hidden, config.channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x_T: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        h = self.conv_in(x_T)
        for block in self.blocks:
            h = block(h, cond.pooled)
        return self.on_shell(x_T + self.conv_out(nn.functional.silu(h)), x_T)
