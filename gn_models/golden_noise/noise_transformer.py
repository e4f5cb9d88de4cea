"""NoiseTransformer: learns the re-denoise transition p(x'_k | x'_{k-1}, c).

Noise patches are tokens (ViT-style patchify, 2-D sin-cos positions, so any latent size that
the patch size divides works); a learned embedding of the step k is added; each layer
self-attends over the patches and cross-attends to the prompt_embeds (B, L, D). The output
is the residual x'_k - x'_{k-1} (zero-initialised, so an untrained model is the identity).
``generate_sequence`` rolls the transition forward autoregressively from x_T; training
samples one transition per sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gn_models.golden_noise.base import SequenceNoiseModel
from gn_models.types import PromptEmbeds
from gn_models.utils.validation import AT_LEAST_0, AT_LEAST_1, fail, require


@dataclass
class NoiseTransformerConfig:
    channels: int = 4  # latent channels C; set from data
    embed_dim: int = 2048  # D of prompt_embeds; set from data
    patch_size: int = 2  # p: tokens are p x p patches of all channels
    dim: int = 64  # token width
    depth: int = 2  # transformer layers
    heads: int = 4
    num_steps: int = 10  # n: re-denoise steps learned, the rollout length; set from data
    max_steps: int = 32  # size of the step embedding table
    renormalize: bool = True  # rescale every state to the norm of the one before (||x_T||)

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a size below 1 (``depth`` below 0), or
        ``dim`` not divisible by ``heads``."""
        sizes = ("channels", "embed_dim", "patch_size", "dim", "heads", "num_steps")
        require(self, AT_LEAST_1, *sizes, "max_steps")
        require(self, AT_LEAST_0, "depth")
        if self.dim % self.heads:
            fail(self, "heads", f"a divisor of dim={self.dim}")


def sincos_2d(h: int, w: int, dim: int, device) -> torch.Tensor:
    """2-D sine-cosine position embedding (Vaswani et al. 2017; ViT/MAE), (h*w, dim)."""
    quarter = dim // 4
    freq = 1.0 / (10000 ** (torch.arange(quarter, device=device) / quarter))
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij"
    )
    angles = [pos.flatten()[:, None].float() * freq[None] for pos in (ys, xs)]
    return torch.cat([f(a) for a in angles for f in (torch.sin, torch.cos)], dim=1)


class NoiseTransformer(SequenceNoiseModel):
    """NoiseTransformer: noise patches as tokens, cross-attention to the prompt; learns the
    re-denoise transition on kept n-step sequences and rolls it forward n steps at inference.

    x_T (B, C, H, W) + PromptEmbeds -> x'_n after ``num_steps`` learned transitions.

    Raises:
        ValueError: H or W not divisible by the patch size.
    """

    kind = "noise_transformer"
    config_class = NoiseTransformerConfig
    data_fields = ("channels", "embed_dim", "num_steps")
    # one random transition per sequence per step
    training_defaults = {"learning_rate": 5e-4, "steps": 800}

    @classmethod
    def data_values(cls, latent_shape, embeds, num_redenoise) -> dict[str, int]:
        return {
            "channels": latent_shape[0],
            "embed_dim": embeds.prompt_embeds.shape[2],
            "num_steps": num_redenoise,
        }

    def __init__(self, config: NoiseTransformerConfig):
        super().__init__()
        self.config = config
        patch = config.channels * config.patch_size**2
        self.patch_in = nn.Linear(patch, config.dim)
        self.step_embedding = nn.Embedding(config.max_steps, config.dim)
        self.prompt_proj = nn.Linear(config.embed_dim, config.dim)
        layer = nn.TransformerDecoderLayer(
            config.dim, config.heads, 4 * config.dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerDecoder(layer, config.depth)
        self.norm = nn.LayerNorm(config.dim)
        self.patch_out = nn.Linear(config.dim, patch)
        nn.init.zeros_(self.patch_out.weight)
        nn.init.zeros_(self.patch_out.bias)

    def transition(
        self, x: torch.Tensor, cond: PromptEmbeds, step: int | torch.Tensor
    ) -> torch.Tensor:
        """One learned re-denoise step: x'_{k-1} (B, C, H, W) -> x'_k, for step k >= 1
        (an int, or a (B,) int64 tensor of per-sample steps)."""
        b, c, h, w = x.shape
        p = self.config.patch_size
        if h % p or w % p:
            raise ValueError(f"Latent {h}x{w} is not divisible by patch_size={p}.")
        tokens = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
        tokens = tokens.reshape(b, (h // p) * (w // p), c * p * p)  # (B, T, C p p)
        steps = torch.as_tensor(step, device=x.device, dtype=torch.long).expand(b) - 1
        hidden = (
            self.patch_in(tokens)
            + sincos_2d(h // p, w // p, self.config.dim, x.device)
            + self.step_embedding(steps)[:, None]
        )
        memory = self.prompt_proj(cond.prompt_embeds.float())
        hidden = self.layers(hidden, memory, memory_key_padding_mask=cond.attention_mask == 0)
        delta = self.patch_out(self.norm(hidden))  # (B, T, C p p)
        delta = delta.reshape(b, h // p, w // p, c, p, p).permute(0, 3, 1, 4, 2, 5)
        return self.on_shell(x + delta.reshape(b, c, h, w), x)

    def generate_sequence(
        self, x_T: torch.Tensor, cond: PromptEmbeds, num_steps: int | None = None
    ) -> torch.Tensor:
        """Roll forward from x_T: returns (B, num_steps + 1, C, H, W) = [x_T, x'_1, ...]."""
        states = [x_T.float()]
        for step in range(1, (num_steps or self.config.num_steps) + 1):
            states.append(self.transition(states[-1], cond, step))
        return torch.stack(states, dim=1)

    def training_loss(self, sequence: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        """Teacher-forced transition MSE of (B, n+1, C, H, W) sequences. In training mode one
        random transition k in 1..n per sequence (the transition is Markov, so this is the
        all-transitions loss in expectation at 1/n of its cost); in eval mode all of them."""
        b, length = sequence.shape[:2]
        if self.training:
            k = torch.randint(1, length, (b,), device=sequence.device)
        else:
            k = torch.arange(1, length, device=sequence.device).repeat_interleave(b)
            sequence, cond = (
                sequence.repeat(length - 1, 1, 1, 1, 1),
                cond.index(torch.arange(b).repeat(length - 1)),
            )
        rows = torch.arange(len(k), device=sequence.device)
        prediction = self.transition(sequence[rows, k - 1], cond, k)
        return nn.functional.mse_loss(prediction, sequence[rows, k])
