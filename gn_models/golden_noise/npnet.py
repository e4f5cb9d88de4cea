"""NPNet, the noise prompt network (Zhou et al., arXiv:2411.09502, Sec. 3.4, Fig. 3).

    e = AdaGroupNorm(x_T; prompt_embeds)                      (text injection)
    golden = SVD(x_T) + (2 sigmoid(alpha) - 1) e + beta R(x_T + e)

- SVD branch: the latent (C, H, W) is tiled into one (a H) x (b W) matrix (a b = C; SDXL's
  4x128x128 becomes 256x256), U, s, Vh = svd(.), and MLPs over U^T, Vh and s followed by
  self-attention predict new singular values s'; the output U diag(s') Vh is folded back.
- AdaGroupNorm (diffusers): GroupNorm(1 group) of x_T with per-channel scale and shift from a
  Linear on the flattened full prompt_embeds (B, L, D).
- Residual branch R, chosen explicitly by ``residual``: timm's Swin-T (``"swin_t"``, as
  published for SDXL; needs ``timm``, and training starts from its ImageNet weights) or a
  small conv net (``"conv"``, the default, for small latents such as the digits profile's).
  Nothing depends on what a local cache holds: missing Swin-T weights are an error.
- alpha, beta: scalars initialised to 0, so an untrained NPNet returns SVD(x_T).

Unlike the reference code: every sample uses its own prompt embedding; training and inference
share one SVD branch (with attention); any latent size, square or not, is supported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from diffusers.models.normalization import AdaGroupNorm
from torch import nn

from gn_models.golden_noise.base import GoldenNoiseModel
from gn_models.types import PromptEmbeds
from gn_models.utils.validation import AT_LEAST_0, AT_LEAST_1, fail, require

RESIDUALS = ("conv", "swin_t")  # NPNet's residual branches
SWIN_T = "swin_tiny_patch4_window7_224"  # timm's name of the published residual backbone


@dataclass
class NPNetConfig:
    """NPNet's architecture. Defaults are the graph's (sized for the digits profile);
    ``NPNetConfig.published()`` gives the released SDXL model's."""

    channels: int = 4  # latent channels C; set from data
    height: int = 128  # latent height H; set from data
    width: int = 128  # latent width W; set from data
    prompt_tokens: int = 77  # L of prompt_embeds; set from data
    embed_dim: int = 2048  # D of prompt_embeds (SDXL 2048, MiniLM 384); set from data
    svd_dim: int = 64  # token width of the SVD branch; 0: min(aH, bW) as in the reference
    svd_hidden: int = 64  # hidden width of the U and Vh MLPs (reference: 64)
    svd_out_hidden: int = 256  # hidden width of the singular-value head (reference: 1024)
    svd_heads: int = 8  # attention heads in the SVD branch
    residual: str = "conv"  # RESIDUALS: "conv" or "swin_t" (timm, ImageNet weights; SDXL)
    conv_hidden: int = 32  # width of the conv residual branch

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a size or width below 1 (``svd_dim`` below
        0), or an unknown ``residual``."""
        sizes = ("channels", "height", "width", "prompt_tokens", "embed_dim", "svd_hidden")
        require(self, AT_LEAST_1, *sizes, "svd_out_hidden", "svd_heads", "conv_hidden")
        require(self, AT_LEAST_0, "svd_dim")
        if self.residual not in RESIDUALS:
            fail(
                self,
                "residual",
                f"one of {RESIDUALS} ('auto' was removed so that a run's architecture never "
                "depends on a local cache: 'swin_t' is the published NPNet for SDXL-size "
                "latents, 'conv' the small-latent one)",
            )

    @classmethod
    def published(cls, **overrides) -> NPNetConfig:
        """The released NPNet for SDXL (4x128x128 latents, 77x2048 prompt_embeds, SVD width
        min(aH, bW) = 256, singular-value head 1024, Swin-T residual), with ``overrides``."""
        values = {"svd_dim": 0, "svd_out_hidden": 1024, "residual": "swin_t", "conv_hidden": 64}
        return cls(**{**values, **overrides})


def tile_grid(channels: int) -> tuple[int, int]:
    """Rows a and columns b (a * b = C, a <= b, as square as possible) of the channel tiling."""
    a = max(d for d in range(1, int(channels**0.5) + 1) if channels % d == 0)
    return a, channels // a


class SelfAttention(nn.Module):
    """Multi-head self-attention over (B, N, dim) tokens (qkv without bias, as the reference)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"SVD branch width {dim} is not divisible by svd_heads={heads}.")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, dim = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, dim / heads)
        return self.proj(out.transpose(1, 2).reshape(b, n, dim))


class SVDBranch(nn.Module):
    """Predicts new singular values of the tiled latent; returns U diag(s') Vh, (B, C, H, W)."""

    def __init__(self, config: NPNetConfig):
        super().__init__()
        self.rows, self.cols = tile_grid(config.channels)
        m, n = self.rows * config.height, self.cols * config.width
        k = min(m, n)
        dim = config.svd_dim or k
        self.mlp1 = nn.Sequential(
            nn.Linear(m, config.svd_hidden), nn.ReLU(), nn.Linear(config.svd_hidden, dim)
        )  # over rows of U^T
        self.mlp2 = nn.Sequential(
            nn.Linear(n, config.svd_hidden), nn.ReLU(), nn.Linear(config.svd_hidden, dim)
        )  # over rows of Vh
        self.mlp3 = nn.Sequential(nn.Linear(k, dim))  # over s
        self.attention = SelfAttention(dim, config.svd_heads)
        self.mlp4 = nn.Sequential(
            nn.Linear(dim, config.svd_out_hidden), nn.ReLU(), nn.Linear(config.svd_out_hidden, k)
        )

    def tile(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape  # (B, a*b, H, W) -> (B, a*H, b*W)
        x = x.reshape(b, self.rows, self.cols, h, w).permute(0, 1, 3, 2, 4)
        return x.reshape(b, self.rows * h, self.cols * w)

    def untile(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b = x.shape[0]  # (B, a*H, b*W) -> (B, a*b, H, W)
        x = x.reshape(b, self.rows, h, self.cols, w).permute(0, 1, 3, 2, 4)
        return x.reshape(b, self.rows * self.cols, h, w)

    def singular_value_delta(self, u: torch.Tensor, s: torch.Tensor, vh: torch.Tensor):
        tokens = self.mlp1(u.transpose(1, 2)) + self.mlp2(vh) + self.mlp3(s).unsqueeze(1)
        return self.mlp4(self.attention(tokens).mean(1))  # (B, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        u, s, vh = torch.linalg.svd(self.tile(x.float()), full_matrices=False)
        s_new = s + self.singular_value_delta(u, s, vh)
        return self.untile(u @ torch.diag_embed(s_new) @ vh, h, w).to(x.dtype)


class ConvResidual(nn.Module):
    """Small conv residual branch R for latents without a pretrained Swin-T (digits)."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(hidden, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SwinResidual(nn.Module):
    """Swin-T residual branch in the layout of the released checkpoints.

    x (B, C, H, W) -> resize to 224 -> 1x1 conv C->3 -> Swin-T features (B, 7, 7, 768) ->
    resized to (B, 7, H, W) (the reference interpolates timm's channels-last features as if
    they were channels-first; the released weights expect it) -> 1x1 conv 7->C.

    Raises: as ``swin_t``.
    """

    def __init__(self, channels: int, pretrained: bool = True):
        super().__init__()
        self.downconv = nn.Conv2d(channels, 3, 1)
        self.swin = swin_t(pretrained)
        self.upconv = nn.Conv2d(7, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.swin.forward_features(self.downconv(F.interpolate(x, size=(224, 224))))
        return self.upconv(F.interpolate(features, size=x.shape[-2:]))


class NPNet(GoldenNoiseModel):
    """NPNet (arXiv:2411.09502): SVD branch + AdaGroupNorm text injection + residual branch
    (a small conv net, or Swin-T as published: ``residual``), trained with MSE on kept
    one-step pairs (x_T, x'_1).

    x_T (B, C, H, W) float32 + PromptEmbeds (prompt_embeds (B, L, D)) -> golden noise
    (B, C, H, W). Shapes are fixed by ``NPNetConfig`` (height, width, prompt_tokens).
    """

    kind = "npnet"
    config_class = NPNetConfig
    data_fields = ("channels", "height", "width", "prompt_tokens", "embed_dim")
    # the published recipe: pairs (x_T, x'_1), one step, the best validation MSE
    training_defaults = {"learning_rate": 3e-3, "reward_every": 0, "rollout_lengths": [1]}

    def __init__(self, config: NPNetConfig, pretrained_residual: bool = False):
        """Raises: ImportError / FileNotFoundError as ``swin_t`` does for
        ``residual="swin_t"`` (``NPNetConfig`` refuses an unknown ``residual``)."""
        super().__init__()
        self.config = config
        self.unet_svd = SVDBranch(config)
        self.text_embedding = AdaGroupNorm(
            config.prompt_tokens * config.embed_dim, config.channels, num_groups=1, eps=1e-6
        )
        if config.residual == "swin_t":
            self.unet_embedding = SwinResidual(config.channels, pretrained_residual)
        else:
            self.unet_embedding = ConvResidual(config.channels, config.conv_hidden)
        self.alpha = nn.Parameter(torch.zeros(()))
        self.beta = nn.Parameter(torch.zeros(()))

    @classmethod
    def data_values(cls, latent_shape, embeds, num_redenoise) -> dict[str, int]:
        """The latent shape and prompt_embeds (B, L, D): NPNet is built for one size."""
        c, h, w = latent_shape
        _, tokens, dim = embeds.prompt_embeds.shape
        return {"channels": c, "height": h, "width": w, "prompt_tokens": tokens, "embed_dim": dim}

    @classmethod
    def from_data(cls, config, latent_shape, embeds, num_redenoise) -> NPNet:
        """NPNet for this latent shape and prompt_embeds (B, L, D); a Swin-T residual starts
        from ImageNet weights, as in the paper."""
        data = cls.data_values(latent_shape, embeds, num_redenoise)
        return cls(replace(config, **data), pretrained_residual=True)

    def forward(self, x_T: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        x = x_T.float()
        e = self.text_embedding(x, cond.prompt_embeds.float().flatten(1))  # (B, C, H, W)
        golden = (
            self.unet_svd(x)
            + (2 * torch.sigmoid(self.alpha) - 1) * e
            + self.beta * self.unet_embedding(x + e)
        )
        return golden.to(x_T.dtype)


def swin_t(pretrained: bool) -> nn.Module:
    """timm's Swin-T (``SWIN_T``), with its ImageNet weights when ``pretrained``.

    Raises:
        ImportError: timm is not installed.
        FileNotFoundError: ``pretrained`` and the weights are neither in the local Hugging Face
            cache nor downloadable (the message says how to get them).
    """
    try:
        import timm
    except ImportError as err:
        raise ImportError(
            "NPNet residual='swin_t' needs timm: `pip install timm`, or use residual='conv'."
        ) from err
    try:
        return timm.create_model(SWIN_T, pretrained=pretrained)
    except OSError as err:  # offline and not cached (huggingface_hub's errors are OSErrors)
        raise FileNotFoundError(
            f"NPNet residual='swin_t' trains from timm's pretrained {SWIN_T} weights, which are "
            "not in the local Hugging Face cache and could not be downloaded. Download them once "
            f"online (`python -c \"import timm; timm.create_model('{SWIN_T}', pretrained=True)\"`) "
            "or use residual='conv'."
        ) from err
