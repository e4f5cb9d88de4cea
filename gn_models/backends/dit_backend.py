"""A ``DiffusionBackend`` over diffusers' diffusion-transformer pipelines: Hunyuan-DiT and
PixArt-Sigma.

``DiTBackend`` is ``DiffusersBackend`` (loading without the network, the record file, the
model's own schedule for DDIM, the configurable ``generate`` sampler, VAE decoding) with the
text encoders, the transformer call and the pipeline arguments of the DiT pipelines:

- Hunyuan-DiT (``HunyuanDiTPipeline``, e.g. Tencent-Hunyuan/HunyuanDiT-v1.2-Diffusers): a
  bilingual BERT (77 tokens, 1024 wide) and an mT5 (256 tokens, 2048 wide) text encoder; the
  BERT states are ``prompt_embeds`` (what the released Hunyuan-DiT NPNet checkpoint reads: the
  reference code feeds ``pipe.encode_prompt(prompt)[0]`` to NPNet), the mT5 states and mask
  travel in ``PromptEmbeds.extra``. DDPM schedule with v-prediction (v1.2: scaled_linear
  0.00085..0.018, "leading", steps_offset 1).
- PixArt-Sigma (``PixArtSigmaPipeline``, e.g. PixArt-alpha/PixArt-Sigma-XL-2-1024-MS): one
  T5-XXL encoder (300 tokens, 4096 wide); epsilon prediction, linear betas 0.0001..0.02.

Both transformers predict a learned variance next to the noise (8 output channels for 4
latent channels); as in the pipelines only the noise half is used.

Sources: diffusers 0.42 ``pipelines/hunyuandit/pipeline_hunyuandit.py`` (``encode_prompt``,
``__call__`` steps 7-8: rotary embedding, image_meta_size, style, the transformer call, the
learned-sigma split, CFG) and ``pipelines/pixart_alpha/pipeline_pixart_sigma.py``
(``encode_prompt``, ``__call__`` step 7: added_cond_kwargs, CFG, learned sigma); the decode
stage of both (``latents / scaling_factor``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from diffusers import DDIMScheduler, HunyuanDiTPipeline, PixArtSigmaPipeline
from diffusers.models.embeddings import get_2d_rotary_pos_embed
from diffusers.pipelines.hunyuandit.pipeline_hunyuandit import get_resize_crop_region_for_grid
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from gn_models.backends.diffusers_backend import (
    DiffusersBackend,
    DiffusersBackendConfig,
    PipelineFamily,
    _check_supported,
)
from gn_models.types import PromptEmbeds

DIT_FAMILY = PipelineFamily(
    "DiTBackend",
    (HunyuanDiTPipeline, PixArtSigmaPipeline),
    "text-to-image diffusion transformers with BERT/T5 text encoders and a 4-channel VAE",
)
PIXART_MAX_SEQUENCE_LENGTH = 300  # PixArtSigmaPipeline's max_sequence_length (T5 tokens)
HUNYUAN_ORIGINAL_SIZE = (1024, 1024)  # HunyuanDiTPipeline's default original_size
EXTRA_EMBEDS, EXTRA_MASK = "prompt_embeds_2", "attention_mask_2"  # Hunyuan's mT5 conditioning


@dataclass
class DiTBackendConfig(DiffusersBackendConfig):
    """Settings of the diffusion-transformer family (Hunyuan-DiT, PixArt-Sigma).

    Attributes:
        model: Hugging Face model id (read from the local HF cache, never downloaded) or a
            local directory with model_index.json: Tencent-Hunyuan/HunyuanDiT-v1.2-Diffusers
            (and its -Distilled and v1.1 siblings), PixArt-alpha/PixArt-Sigma-XL-2-1024-MS
            (and the other PixArt-Sigma checkpoints).
        variant: weights variant to load ("fp16" for the fp16 files), "" for the default.
        dtype: "auto" (float16 on CUDA, float32 on CPU), "float16", "bfloat16", "float32".
        height, width: image size in pixels, multiples of 16; 0 = the model's default (1024).
            The pipeline's resolution binning is off: the size is used as given.
        sampler: "ddim" or a diffusers scheduler class name used to sample images from (golden)
            noise, e.g. "DDPMScheduler" (Hunyuan-DiT's own) or "DPMSolverMultistepScheduler"
            (PixArt-Sigma's own).
        sampler_config: overrides for that scheduler's config.
    """

    model: str = "Tencent-Hunyuan/HunyuanDiT-v1.2-Diffusers"


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``states`` (B, L, D) over the tokens where ``mask`` (B, L) is 1 -> (B, D)."""
    weights = mask.to(states.dtype).unsqueeze(-1)
    return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class DiTBackend(DiffusersBackend):
    """``DiffusionBackend`` over a loaded ``HunyuanDiTPipeline`` or ``PixArtSigmaPipeline``.

    Shapes (1024 px; the released models' widths):
        latents x: (B, 4, H/8, W/8) in ``self.dtype``, e.g. (B, 4, 128, 128).
        prompt_embeds: Hunyuan-DiT (B, 77, 1024) float32, the BERT encoder's last hidden
            states (``pipe.encode_prompt(prompts)[0]``); PixArt-Sigma (B, 300, 4096) float32,
            T5's last hidden states.
        attention_mask: (B, 77) / (B, 300) int64, the tokenizer's mask (1 = token, 0 = pad);
            the transformers use it (Hunyuan swaps padded tokens for a learned embedding,
            PixArt masks its cross-attention).
        pooled: (B, 1024) / (B, 4096) float32, the masked mean of prompt_embeds (the
            transformers never see it; the golden-noise models need one vector per prompt).
        extra (Hunyuan-DiT only): "prompt_embeds_2" (B, 256, 2048) float32, the mT5 states,
            and "attention_mask_2" (B, 256) int64.

    The unconditional row is the encoded "" (both pipelines' default negative prompt). CFG as
    the pipelines compute it: w <= 1 is the conditional prediction alone, else
    e_u + w (e_c - e_u) on the noise half of the output (Hunyuan-DiT's guidance_rescale
    default 0: no rescaling). For Hunyuan-DiT (v-prediction) the "noise" is v; DDIM's step
    converts it.

    DDIM and re-denoise use the model's own schedule (``scheduler_config``), with one change:
    PixArt-Sigma's config says timestep_spacing "linspace", which ``DDIMInverseScheduler``
    does not take; DDIM uses "trailing" instead (as linspace, its first step is t = 999).

    Args:
        pipe: a ``HunyuanDiTPipeline`` or ``PixArtSigmaPipeline`` (or subclass) on one device,
            from ``load_pipeline(model, family=DIT_FAMILY)`` or loaded by the user.
        height, width: image size in pixels, multiples of ``vae_scale_factor`` x patch size
            (16); default ``transformer.config.sample_size * vae_scale_factor`` (1024).
        sampler: "ddim" (the same as ``gn_models.sampling.ddim.ddim_sample`` when
            ``sampler_config`` is empty) or a diffusers scheduler class name for ``generate``.
        sampler_config: overrides for the sampler's config.

    Raises:
        ValueError: another pipeline class, a size that is not a multiple of 16, or an
            unknown sampler.
    """

    kind = "dit"
    config_class = DiTBackendConfig
    family = DIT_FAMILY
    denoiser_attr = "transformer"
    guidance_embedded = False  # no guidance-distilled DiT: w always means CFG

    def __init__(
        self,
        pipe: HunyuanDiTPipeline | PixArtSigmaPipeline,
        height: int | None = None,
        width: int | None = None,
        sampler: str = "ddim",
        sampler_config: dict[str, Any] | None = None,
    ):
        _check_supported(type(pipe), "the given pipeline", self.family)
        self.transformer = pipe.transformer
        self.is_sdxl = False
        self.is_hunyuan = isinstance(pipe, HunyuanDiTPipeline)
        self._rotary: tuple[torch.Tensor, torch.Tensor] | None = None
        self._init_pipeline(pipe, height, width, sampler, sampler_config)

    # -- schedule -----------------------------------------------------------------------------

    @property
    def scheduler_config(self) -> dict[str, Any]:
        """The model's scheduler config, DDIM's keys only (see ``DiffusersBackend``), with
        timestep_spacing "linspace" (PixArt-Sigma's) as "trailing". Hunyuan-DiT v1.2:
        scaled_linear 0.00085..0.018, v_prediction, "leading", steps_offset 1. PixArt-Sigma:
        linear 0.0001..0.02, epsilon, steps_offset 0."""
        config = super().scheduler_config
        if config.get("timestep_spacing") == "linspace":
            config["timestep_spacing"] = "trailing"
        return config

    def make_sampler(self) -> SchedulerMixin:
        """A fresh scheduler for ``generate``: DDIM over ``scheduler_config`` (so "ddim" is
        our DDIM) or the named diffusers scheduler over the model's full config, with
        ``sampler_config`` applied."""
        if self.sampler.lower() == "ddim":
            return DDIMScheduler.from_config(self.scheduler_config, **self.sampler_config)
        return super().make_sampler()

    # -- text ---------------------------------------------------------------------------------

    @property
    def prompt_tokenizer(self):
        """The first tokenizer and the context the pipeline encodes with: Hunyuan-DiT's BERT
        tokenizer and ``transformer.config.text_len`` (77), PixArt-Sigma's T5 tokenizer and
        300 tokens."""
        if self.is_hunyuan:
            return self.pipe.tokenizer, int(self.transformer.config.text_len)
        return self.pipe.tokenizer, PIXART_MAX_SEQUENCE_LENGTH

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> PromptEmbeds:
        """Encode prompts with ``pipe.encode_prompt`` (no CFG duplication).

        Hunyuan-DiT: BERT with ``text_encoder_index=0`` and max length ``text_len`` (77), mT5
        with ``text_encoder_index=1`` and ``text_len_t5`` (256), as ``__call__`` does.
        PixArt-Sigma: T5 with max length 300 and ``clean_caption=False`` (prompts lowercased
        and stripped; the caption cleaning of ``pipe(prompt=...)`` needs beautifulsoup4 and
        would rewrite prompts).

        Returns:
            PromptEmbeds on ``self.device``: prompt_embeds float32, attention_mask int64,
            pooled = their masked mean, float32, and for Hunyuan-DiT the extra
            "prompt_embeds_2" (float32) and "attention_mask_2" (int64); shapes in the class
            docstring.
        """
        prompts = list(prompts)
        extra: dict[str, torch.Tensor] = {}
        if self.is_hunyuan:
            config = self.transformer.config
            embeds, mask = self._encode_hunyuan(prompts, 0, config.text_len)
            embeds_2, mask_2 = self._encode_hunyuan(prompts, 1, config.text_len_t5)
            extra = {EXTRA_EMBEDS: embeds_2.float(), EXTRA_MASK: mask_2.long()}
        else:
            embeds, mask, _, _ = self.pipe.encode_prompt(
                prompts,
                do_classifier_free_guidance=False,
                device=self.device,
                clean_caption=False,
                max_sequence_length=PIXART_MAX_SEQUENCE_LENGTH,
            )
        embeds, mask = embeds.float(), mask.to(self.device, torch.int64)
        return PromptEmbeds(embeds, mask, masked_mean(embeds, mask), extra)

    def _encode_hunyuan(self, prompts: list[str], index: int, length: int):
        embeds, _, mask, _ = self.pipe.encode_prompt(
            prompts,
            device=self.device,
            dtype=self.dtype,
            num_images_per_prompt=1,
            do_classifier_free_guidance=False,
            max_sequence_length=int(length),
            text_encoder_index=index,
        )
        return embeds, mask

    # -- the transformer ----------------------------------------------------------------------

    def rotary_embedding(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Hunyuan-DiT's 2D rotary position embedding (cos, sin), each (N, head_dim) float32
        for N = grid_h * grid_w patches, over the crop region of a 512 px base grid, as
        ``HunyuanDiTPipeline.__call__`` step 7 builds it (cached)."""
        if self._rotary is None:
            patch = self.transformer.config.patch_size
            grid = (
                self.height // self.vae_scale_factor // patch,
                self.width // self.vae_scale_factor // patch,
            )
            crops = get_resize_crop_region_for_grid(grid, 512 // 8 // patch)
            self._rotary = get_2d_rotary_pos_embed(
                self.transformer.inner_dim // self.transformer.num_heads,
                crops,
                grid,
                device=self.device,
                output_type="pt",
            )
        return self._rotary

    def image_meta_size(self, batch_size: int) -> torch.Tensor:
        """Hunyuan-DiT's (B, 6) size conditioning: original_size (1024, 1024) + target_size
        (H, W) + crops_coords_top_left (0, 0), the pipeline's defaults (read by v1.1 and
        older; v1.2's transformer ignores it)."""
        ids = [*HUNYUAN_ORIGINAL_SIZE, self.height, self.width, 0, 0]
        return torch.tensor([ids], dtype=self.dtype, device=self.device).repeat(batch_size, 1)

    @torch.no_grad()
    def denoiser(self, x: torch.Tensor, t: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        """Noise prediction (v for Hunyuan-DiT) (B, 4, H/8, W/8), ``x``'s dtype, for latents
        x at timestep t: the transformer called as the pipeline calls it, then the first half
        of its learned-sigma output channels.

        Hunyuan-DiT: ``transformer(x, t as x.dtype, encoder_hidden_states, text_embedding_mask,
        encoder_hidden_states_t5, text_embedding_mask_t5, image_meta_size, style = 0,
        image_rotary_emb)``. PixArt-Sigma: ``transformer(x, encoder_hidden_states,
        encoder_attention_mask, timestep, added_cond_kwargs={"resolution": None,
        "aspect_ratio": None})``.

        Raises:
            ValueError: Hunyuan-DiT conditioning without the mT5 extra (not from this
                backend's ``encode_prompts``).
        """
        n = len(x)
        t = torch.as_tensor(t, device=x.device).reshape(-1).expand(n)
        embeds = cond.prompt_embeds.to(self.device, self.dtype)
        mask = cond.attention_mask.to(self.device)
        if self.is_hunyuan:
            if EXTRA_EMBEDS not in cond.extra or EXTRA_MASK not in cond.extra:
                raise ValueError(
                    "Hunyuan-DiT needs the mT5 conditioning in PromptEmbeds.extra "
                    f"({EXTRA_EMBEDS!r}, {EXTRA_MASK!r}); encode prompts with this backend's "
                    f"encode_prompts (got extra {sorted(cond.extra)})."
                )
            out = self.transformer(
                x,
                t.to(x.dtype),
                encoder_hidden_states=embeds,
                text_embedding_mask=mask,
                encoder_hidden_states_t5=cond.extra[EXTRA_EMBEDS].to(self.device, self.dtype),
                text_embedding_mask_t5=cond.extra[EXTRA_MASK].to(self.device),
                image_meta_size=self.image_meta_size(n),
                style=torch.zeros(n, dtype=torch.int64, device=self.device),
                image_rotary_emb=self.rotary_embedding(),
                return_dict=False,
            )[0]
        else:
            out = self.transformer(
                x,
                encoder_hidden_states=embeds,
                encoder_attention_mask=mask,
                timestep=t,
                added_cond_kwargs={"resolution": None, "aspect_ratio": None},
                return_dict=False,
            )[0]
        if out.shape[1] == 2 * self.latent_channels:  # learned sigma: [noise, variance]
            out = out.chunk(2, dim=1)[0]
        return out

    # -- sampling through the pipeline --------------------------------------------------------

    def _pipeline_kwargs(self, cond: PromptEmbeds, cfg_scale: float) -> dict[str, Any]:
        """``pipe(...)``'s conditioning for ``generate``: prompt_embeds and
        prompt_attention_mask (Hunyuan-DiT also prompt_embeds_2 and prompt_attention_mask_2),
        the ``unconditional`` rows as their negative_ counterparts when w > 1, and
        ``use_resolution_binning=False`` so the pipeline keeps the backend's size."""

        def embeds(rows: PromptEmbeds, prefix: str = "") -> dict[str, torch.Tensor]:
            out = {
                f"{prefix}prompt_embeds": rows.prompt_embeds.to(self.device, self.dtype),
                f"{prefix}prompt_attention_mask": rows.attention_mask.to(self.device),
            }
            if self.is_hunyuan:
                out[f"{prefix}prompt_embeds_2"] = rows.extra[EXTRA_EMBEDS].to(
                    self.device, self.dtype
                )
                out[f"{prefix}prompt_attention_mask_2"] = rows.extra[EXTRA_MASK].to(self.device)
            return out

        kwargs: dict[str, Any] = {"use_resolution_binning": False, **embeds(cond)}
        if cfg_scale > 1.0:
            kwargs.update(embeds(self.unconditional(len(cond)), "negative_"))
        if not self.is_hunyuan:  # PixArt refuses a negative_prompt ("" by default) with embeds
            kwargs.update(negative_prompt=None, clean_caption=False)
        return kwargs
