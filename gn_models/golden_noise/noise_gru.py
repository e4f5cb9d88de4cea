"""NoiseGRU: a GRU over re-denoise steps with a FiLM-conditioned CNN state encoder.

Each state x'_{k-1} (B, C, H, W) is encoded by a ResNet-style CNN whose blocks are modulated
by FiLM from the pooled prompt embedding (B, D); the pooled features feed a GRU cell whose
hidden state carries the history of the sequence; the GRU state modulates (FiLM) the feature
map that a conv head decodes into x'_k: either directly or as a residual x'_k - x'_{k-1}
(``residual``), and either as a point estimate (MSE) or as a diagonal Gaussian
(``predict_variance``: Gaussian NLL plus ``kl_weight`` x KL(N(mu, sigma^2) || N(0, I)), the
prior of a noise state).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gn_models.golden_noise.base import SequenceNoiseModel
from gn_models.golden_noise.film_noise_net import NORM_GROUPS, FiLMBlock
from gn_models.types import PromptEmbeds
from gn_models.utils.validation import (
    AT_LEAST_0,
    AT_LEAST_1,
    NON_NEGATIVE,
    multiple_of,
    require,
)


@dataclass
class NoiseGRUConfig:
    channels: int = 4  # latent channels C; set from data
    embed_dim: int = 2048  # width of the pooled prompt embedding; set from data
    hidden: int = 48  # CNN width
    num_blocks: int = 2  # FiLM residual blocks in the encoder
    gru_dim: int = 96  # GRU state width
    num_steps: int = 10  # n: the rollout length at inference; set from data
    residual: bool = True  # predict x'_k - x'_{k-1} instead of x'_k
    predict_variance: bool = False  # Gaussian output with NLL + KL loss
    kl_weight: float = 1e-3  # weight of KL(N(mu, sigma^2) || N(0, I))
    renormalize: bool = True  # rescale every mean state to the norm of the one before (||x_T||)

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a width or step count below 1, ``hidden``
        not a multiple of NORM_GROUPS (FiLM blocks), a negative block count, or a KL weight
        that is negative, NaN or Inf."""
        require(self, AT_LEAST_1, "channels", "embed_dim", "gru_dim", "num_steps")
        require(self, multiple_of(NORM_GROUPS, "the GroupNorm groups"), "hidden")
        require(self, AT_LEAST_0, "num_blocks")
        require(self, NON_NEGATIVE, "kl_weight")


def gaussian_kl_to_standard(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean over elements of KL(N(mean, exp(logvar)) || N(0, 1)); 0 iff mean = 0, logvar = 0."""
    return 0.5 * (logvar.exp() + mean.pow(2) - 1 - logvar).mean()


def gaussian_nll(target: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean Gaussian negative log-likelihood, without the constant 0.5 log(2 pi)."""
    return 0.5 * (logvar + (target - mean).pow(2) * torch.exp(-logvar)).mean()


class NoiseGRU(SequenceNoiseModel):
    """NoiseGRU: FiLM-conditioned CNN encoder + GRU over re-denoise steps (residual and
    optional variance prediction), trained on kept n-step sequences; rolls forward n steps.

    x_T (B, C, H, W) + PromptEmbeds -> x'_n after ``num_steps`` GRU steps (any H, W).
    """

    kind = "noise_gru"
    config_class = NoiseGRUConfig
    data_fields = ("channels", "embed_dim", "num_steps")
    # each step unrolls the GRU over all n transitions
    training_defaults = {"steps": 400, "batch_size": 32, "learning_rate": 2e-3}

    @classmethod
    def data_values(cls, latent_shape, embeds, num_redenoise) -> dict[str, int]:
        return {
            "channels": latent_shape[0],
            "embed_dim": embeds.pooled.shape[1],
            "num_steps": num_redenoise,
        }

    def __init__(self, config: NoiseGRUConfig):
        super().__init__()
        self.config = config
        self.conv_in = nn.Conv2d(config.channels, config.hidden, 3, padding=1)
        self.blocks = nn.ModuleList(
            FiLMBlock(config.hidden, config.embed_dim) for _ in range(config.num_blocks)
        )
        self.gru = nn.GRUCell(config.hidden, config.gru_dim)
        self.head = FiLMBlock(config.hidden, config.gru_dim)
        out = config.channels * (2 if config.predict_variance else 1)
        self.conv_out = nn.Conv2d(config.hidden, out, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def step(self, x: torch.Tensor, h: torch.Tensor | None, cond: PromptEmbeds):
        """One transition from x'_{k-1}: returns mean (B, C, H, W), logvar (or None), new h."""
        features = self.conv_in(x)
        for block in self.blocks:
            features = block(features, cond.pooled.float())
        h = self.gru(features.mean(dim=(2, 3)), h)  # (B, gru_dim)
        out = self.conv_out(F.silu(self.head(features, h)))
        mean, logvar = out.chunk(2, dim=1) if self.config.predict_variance else (out, None)
        return self.on_shell(x + mean if self.config.residual else mean, x), logvar, h

    def generate_sequence(
        self,
        x_T: torch.Tensor,
        cond: PromptEmbeds,
        num_steps: int | None = None,
        sample: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Roll forward from x_T: (B, num_steps + 1, C, H, W). With ``sample`` and a variance
        head, each state is drawn from N(mean, sigma^2); otherwise the mean is taken."""
        states, h = [x_T.float()], None
        for _ in range(num_steps or self.config.num_steps):
            mean, logvar, h = self.step(states[-1], h, cond)
            if sample and logvar is not None:
                noise = torch.randn(mean.shape, generator=generator, device="cpu").to(mean.device)
                mean = mean + (0.5 * logvar).exp() * noise
            states.append(mean)
        return torch.stack(states, dim=1)

    def training_loss(self, sequence: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        """Teacher-forced loss over steps 1..n of (B, n+1, C, H, W): MSE, or NLL + KL."""
        h, losses = None, []
        for k in range(1, sequence.shape[1]):
            mean, logvar, h = self.step(sequence[:, k - 1], h, cond)
            if logvar is None:
                losses.append(F.mse_loss(mean, sequence[:, k]))
            else:
                losses.append(
                    gaussian_nll(sequence[:, k], mean, logvar)
                    + self.config.kl_weight * gaussian_kl_to_standard(mean, logvar)
                )
        return torch.stack(losses).mean()
