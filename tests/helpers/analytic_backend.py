"""A DiffusionBackend whose noise prediction does not depend on x (for exactness tests)."""

import torch

from gn_models.backends.base import DiffusionBackend
from gn_models.backends.digits_training import SCHEDULER_CONFIG
from gn_models.sampling.ddim import ddim_sample
from gn_models.types import PromptEmbeds


class AnalyticBackend(DiffusionBackend):
    """eps(x, t, c) = sin(t / 100 + pooled[:, :1]) broadcast to the latent shape."""

    def __init__(self, shape=(1, 6, 10)):
        self.device = torch.device("cpu")
        self._shape = shape

    @property
    def latent_shape(self):
        return self._shape

    @property
    def scheduler_config(self):
        return dict(SCHEDULER_CONFIG)

    def encode_prompts(self, prompts):
        pooled = torch.tensor([[float(len(p)), 1.0] for p in prompts])
        tokens = pooled[:, None, :].repeat(1, 3, 1)
        return PromptEmbeds(tokens, torch.ones(len(prompts), 3, dtype=torch.long), pooled)

    def denoiser(self, x, t, cond):
        value = torch.sin(t.float() / 100 + cond.pooled[:, :1])  # (B, 1)
        return value[:, :, None, None].expand_as(x).clone()

    def decode(self, latents):
        return (latents.clamp(-1, 1) + 1) / 2

    def generate(self, x_T, cond, cfg_scale, num_steps):
        return self.decode(ddim_sample(self, x_T, cond, cfg_scale, num_steps))
