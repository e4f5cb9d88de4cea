"""The one interface between the samplers and a text-to-image diffusion model.

A backend bundles what re-denoise sampling and DDIM sampling need from a model family:
prompt encoding, the noise prediction with classifier-free guidance (CFG), the scheduler
configuration, the latent shape, decoding latents to images and sampling images from x_T.
Samplers (``gn_models.sampling``) are functions over this interface; the interface imports
nothing of them. The digits family and the diffusers SD/SDXL family implement it; assets and
samplers never branch on the model type.

Adding a pipeline family: subclass ``DiffusionBackend`` in a new file of this package, with
a settings dataclass (``config_class``) and ``prepare`` / ``load``, and add one line to
``gn_models.backends.registry``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch

from gn_models.types import PreparedModel, PromptEmbeds


class DiffusionBackend(ABC):
    """A text-to-image diffusion model seen through the operations golden noise needs.

    Class attributes ``kind`` (registry name) and ``config_class`` (settings dataclass), and
    the classmethods ``prepare`` / ``load``, make a backend usable in the graph.

    Subclasses set ``device`` and ``dtype`` and implement ``encode_prompts``,
    ``denoiser`` (one forward pass), ``decode``, ``latent_shape`` and
    ``scheduler_config``. ``unet_calls`` counts denoiser forward passes (each CFG evaluation
    with w != 1 is one batched pass over cond and uncond rows); ``unet_rows`` counts the
    latent rows those passes evaluated (B, or 2B with CFG): the work, whatever the batching.
    """

    kind: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    device: torch.device
    dtype: torch.dtype = torch.float32
    unet_calls: int = 0
    unet_rows: int = 0

    @classmethod
    def prepare(cls, config: Any, directory: Path, device: str = "auto") -> PreparedModel:
        """Make this family's base model ready under the local folder ``directory``: train
        and save it, or verify pretrained weights and record which (``config``: an instance
        of ``config_class``). Returns what to show in the UI."""
        raise NotImplementedError(f"{cls.__name__} does not define prepare().")

    @classmethod
    def load(cls, config: Any, directory: Path, device: str = "auto") -> DiffusionBackend:
        """The backend that ``prepare`` made ready in ``directory``, on ``device``."""
        raise NotImplementedError(f"{cls.__name__} does not define load().")

    @property
    @abstractmethod
    def latent_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one latent x_T."""

    @property
    @abstractmethod
    def scheduler_config(self) -> dict[str, Any]:
        """A diffusers scheduler config (betas, train timesteps, spacing) for DDIM."""

    @abstractmethod
    def encode_prompts(self, prompts: list[str]) -> PromptEmbeds:
        """Encode prompts; the empty string "" is the unconditional prompt."""

    @abstractmethod
    def denoiser(self, x: torch.Tensor, t: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        """One forward pass: epsilon prediction (B, C, H, W) for latents x at timestep t."""

    @abstractmethod
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (B, C, H, W) -> images (B, channels, height, width) float32 in [0, 1]."""

    @property
    def prompt_tokenizer(self) -> tuple[Any, int] | None:
        """(Hugging Face tokenizer, context length in tokens) of the text encoder, or None when
        the backend has none; ``encode_prompts`` truncates longer prompts to the context."""
        return None

    def truncated_prompts(self, prompts: list[str]) -> dict[str, int]:
        """The prompts longer than the text encoder's context, with their token counts
        (special tokens included); ``encode_prompts`` keeps only their first tokens. Empty
        when the backend has no tokenizer."""
        if self.prompt_tokenizer is None:
            return {}
        tokenizer, context = self.prompt_tokenizer
        ids = tokenizer(list(prompts), truncation=False, verbose=False)["input_ids"]
        return {p: len(i) for p, i in zip(prompts, ids, strict=True) if len(i) > context}

    def unconditional(self, batch_size: int) -> PromptEmbeds:
        """Embeddings of the empty prompt, repeated to ``batch_size`` rows (cached)."""
        if getattr(self, "_uncond", None) is None:
            self._uncond = self.encode_prompts([""])
        return self._uncond.index([0] * batch_size)

    def predict_noise(
        self, x: torch.Tensor, t: torch.Tensor | int, cond: PromptEmbeds, cfg_scale: float
    ) -> torch.Tensor:
        """Classifier-free guided epsilon: e_u + w (e_c - e_u) (Ho & Salimans 2022, eq. 6).

        Args:
            x: latents (B, C, H, W) in ``self.dtype`` on ``self.device``.
            t: scalar timestep in [0, num_train_timesteps).
            cond: prompt embeddings with B rows.
            cfg_scale: guidance scale w. w == 1 runs the conditional branch only.

        Returns:
            epsilon prediction, (B, C, H, W), same dtype as x.
        """
        t = torch.as_tensor(t, device=x.device)
        self.unet_calls += 1
        self.unet_rows += len(x) * (1 if cfg_scale == 1.0 else 2)
        if cfg_scale == 1.0:
            return self.denoiser(x, t, cond)
        both = PromptEmbeds.cat([self.unconditional(len(cond)), cond])
        eps_uncond, eps_cond = self.denoiser(torch.cat([x, x]), t, both).chunk(2)
        return eps_uncond + cfg_scale * (eps_cond - eps_uncond)

    @abstractmethod
    def generate(
        self, x_T: torch.Tensor, cond: PromptEmbeds, cfg_scale: float, num_steps: int
    ) -> torch.Tensor:
        """Images sampled from x_T with this family's sampler: ``num_steps`` steps at CFG
        ``cfg_scale``, decoded. Plain backends return
        ``self.decode(gn_models.sampling.ddim.ddim_sample(self, x_T, cond, cfg_scale, num_steps))``;
        backends that own a pipeline (diffusers) hand x_T to it as ``latents=``.

        Args:
            x_T: (B, C, H, W) initial noise (standard or golden) on the backend's device.
            cond: prompt embeddings with B rows.

        Returns:
            images (B, channels, height, width) float32 in [0, 1].
        """

    def initial_noise(self, seeds: list[int]) -> torch.Tensor:
        """x_T ~ N(0, I) for each seed, drawn on the CPU so a seed gives the same x_T on any
        device and in any batch. Returns (len(seeds), C, H, W) in ``self.dtype``."""
        noise = [
            torch.randn(self.latent_shape, generator=torch.Generator().manual_seed(int(s)))
            for s in seeds
        ]
        return torch.stack(noise).to(self.device, self.dtype)
