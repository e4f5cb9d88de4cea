"""A ``DiffusionBackend`` over diffusers' SDXL-class and SD 1.x/2.x text-to-image pipelines.

``load_pipeline`` loads a ``StableDiffusionXLPipeline`` (SDXL base, DreamShaper-XL,
SDXL-Lightning, LCM/PCM-LoRA fused checkpoints, ...) or a ``StableDiffusionPipeline``
(SD 1.5, SD 2.1) from a local directory or the Hugging Face cache, never downloading.
``DiffusersBackend`` gives the samplers in ``gn_models.sampling`` the model's UNet, text encoders,
VAE and training schedule, and ``generate`` hands x_T to the pipeline itself (``latents=``) with
a configurable sampler, so few-step models run with their own scheduler and step count.

Sources: diffusers 0.42 ``pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py``
(``encode_prompt``, ``_get_add_time_ids``, ``prepare_latents``, the decode stage) and
``pipelines/stable_diffusion/pipeline_stable_diffusion.py``; SDXL: Podell et al. 2023,
arXiv:2307.01952, Sec. 2.2 (size and crop conditioning).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import diffusers
import torch
from diffusers import (
    DDIMInverseScheduler,
    DDIMScheduler,
    DiffusionPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from gn_models.backends.base import DiffusionBackend
from gn_models.types import PreparedModel, PromptEmbeds
from gn_models.utils.device import resolve_device
from gn_models.utils.records import check_record, write_record
from gn_models.utils.validation import AT_LEAST_0, fail, one_of, require

SUPPORTED_PIPELINES: tuple[type[DiffusionPipeline], ...] = (
    StableDiffusionXLPipeline,
    StableDiffusionPipeline,
)


class PipelineFamily(NamedTuple):
    """The diffusers pipeline classes (and their subclasses) that one backend accepts."""

    backend: str  # the backend's class name, for messages
    classes: tuple[type[DiffusionPipeline], ...]
    description: str  # what the classes have in common, for messages

    def names(self) -> str:
        return ", ".join(cls.__name__ for cls in self.classes) + " (and subclasses)"


SD_FAMILY = PipelineFamily(
    "DiffusersBackend",
    SUPPORTED_PIPELINES,
    "text-to-image UNet pipelines with CLIP text encoders and a 4-channel VAE",
)
_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


RECORD_FILE = "model.json"  # what ``prepare`` writes: which weights the graph uses


@dataclass
class DiffusersBackendConfig:
    """Settings of the diffusers family (SDXL and its family, SD 1.5/2.1).

    Attributes:
        model: Hugging Face model id (read from the local HF cache, never downloaded) or a
            local directory with model_index.json. SDXL, DreamShaper-XL, SDXL-Lightning, LCM
            and PCM SDXL checkpoints, SD 1.5 and SD 2.1 all work.
        variant: weights variant to load ("fp16" for the fp16 files), "" for the default.
        dtype: "auto" (float16 on CUDA, float32 on CPU), "float16", "bfloat16", "float32".
        height, width: image size in pixels; 0 = the model's default (1024 for SDXL).
        sampler: "ddim" or a diffusers scheduler class name used to sample images from (golden)
            noise, e.g. "EulerDiscreteScheduler" for SDXL-Lightning, "LCMScheduler" for LCM.
        sampler_config: overrides for that scheduler's config, e.g. {"timestep_spacing":
            "trailing"}.
    """

    model: str = "stabilityai/stable-diffusion-xl-base-1.0"
    variant: str = ""
    dtype: str = "auto"
    height: int = 0
    width: int = 0
    sampler: str = "ddim"
    sampler_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): an unknown dtype or sampler, or a negative
        size; when the settings are read, not after the pipeline has loaded."""
        require(self, AT_LEAST_0, "height", "width")
        require(self, one_of(["auto", *_DTYPES]), "dtype")
        if self.sampler.lower() != "ddim" and not is_scheduler(self.sampler):
            fail(self, "sampler", "'ddim' or a diffusers scheduler class name")


def is_scheduler(name: str) -> bool:
    """True when ``name`` is a diffusers scheduler class ("EulerDiscreteScheduler")."""
    cls = getattr(diffusers, name, None)
    return isinstance(cls, type) and issubclass(cls, SchedulerMixin)


class ModelWeightsNotFoundError(FileNotFoundError):
    """The pipeline's files are neither in the given directory nor in the Hugging Face cache.

    The message names the command that fetches them (on a machine with internet) and where
    they must end up.
    """


def _check_supported(
    pipeline_class: type | str | None, model: str, family: PipelineFamily = SD_FAMILY
) -> None:
    """Raise ValueError unless ``pipeline_class`` (a class or its diffusers name) is one of
    ``family``'s classes or a subclass."""
    cls = getattr(diffusers, pipeline_class, None) if isinstance(pipeline_class, str) else None
    cls = pipeline_class if isinstance(pipeline_class, type) else cls
    if not (isinstance(cls, type) and issubclass(cls, family.classes)):
        name = getattr(pipeline_class, "__name__", pipeline_class)
        raise ValueError(
            f"{model} is a {name}; {family.backend} supports {family.names()} "
            f"({family.description})."
        )


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """ "auto" -> float16 on CUDA, float32 elsewhere; else a name like "float16" or "bf16".

    Raises:
        ValueError: an unknown dtype name.
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"Unknown dtype {dtype!r}; use 'auto' or one of {sorted(_DTYPES)}.")
    return _DTYPES[dtype]


def _missing_weights_message(model: str, variant: str | None, err: Exception) -> str:
    from huggingface_hub import constants

    pattern = f"*{variant}.safetensors" if variant else "*/*.safetensors"
    repo = model if not Path(model).is_absolute() and model.count("/") == 1 else "<repo-id>"
    return (
        f"No diffusers pipeline found for {model!r} (variant={variant!r}) in a local directory "
        f"or the Hugging Face cache ({constants.HF_HUB_CACHE}); nothing is downloaded. "
        "On a machine with internet, fetch it into the cache that HF_HOME points to:\n"
        f'  hf download {repo} --include "*.json" "*.txt" "{pattern}"\n'
        f'  (older clients: huggingface-cli download {repo} --include "*.json" "*.txt" '
        f'"{pattern}")\n'
        "e.g. stabilityai/stable-diffusion-xl-base-1.0 with variant='fp16' and "
        '"*fp16.safetensors" (about 7 GB), then copy HF_HOME here; or run '
        "DiffusionPipeline.from_pretrained(repo, variant=...).save_pretrained(directory) and "
        "pass that directory (one with model_index.json). Pass variant='fp16' only when the "
        f"*.fp16.safetensors files are the ones present. Cause: {err}"
    )


def load_pipeline(
    model: str | Path,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype = "auto",
    variant: str | None = None,
    family: PipelineFamily = SD_FAMILY,
) -> DiffusionPipeline:
    """Load an SDXL-class or SD 1.x/2.x pipeline (or another ``family``'s) without touching
    the network.

    Args:
        model: a directory with ``model_index.json`` or a Hub repo id already in the
            Hugging Face cache (``HF_HOME``), e.g. "stabilityai/stable-diffusion-xl-base-1.0".
        device: where the pipeline's modules go.
        dtype: "auto" (float16 on CUDA, float32 on CPU), "float32", "float16", "bfloat16".
        variant: weight file variant, e.g. "fp16" for ``*.fp16.safetensors``.
        family: the pipeline classes accepted (``SD_FAMILY``; ``dit_backend.DIT_FAMILY``).

    Returns:
        The pipeline on ``device`` with its progress bar off. Pipeline defaults are kept: an
        SDXL pipeline watermarks ``__call__`` output when ``invisible-watermark`` is installed
        (not a dependency here), an SD pipeline runs its safety checker if it ships one.

    Raises:
        ModelWeightsNotFoundError: the directory or cache entry is missing or incomplete
            (an ``OSError`` from huggingface_hub/diffusers, or no files of ``variant``).
        ValueError: the pipeline class is not supported, or ``dtype`` is unknown.
    """
    device = torch.device(device)
    torch_dtype = resolve_dtype(dtype, device)
    model = str(model)
    try:
        index = DiffusionPipeline.load_config(model, local_files_only=True)
    except (OSError, ValueError) as err:  # ValueError: huggingface_hub's HFValidationError
        raise ModelWeightsNotFoundError(_missing_weights_message(model, variant, err)) from err
    _check_supported(index.get("_class_name"), model, family)
    try:
        pipe = DiffusionPipeline.from_pretrained(
            model, torch_dtype=torch_dtype, local_files_only=True, variant=variant
        )
    except OSError as err:
        raise ModelWeightsNotFoundError(_missing_weights_message(model, variant, err)) from err
    except ValueError as err:
        if "variant" not in str(err):
            raise
        raise ModelWeightsNotFoundError(_missing_weights_message(model, variant, err)) from err
    _check_supported(type(pipe), model, family)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


class DiffusersBackend(DiffusionBackend):
    """``DiffusionBackend`` over a loaded SDXL-class or SD 1.x/2.x diffusers pipeline.

    Shapes (SDXL at 1024 px; SD 1.5 at 512 px in brackets):
        latents x: (B, 4, H/8, W/8) in ``self.dtype``, e.g. (B, 4, 128, 128) [(B, 4, 64, 64)].
        prompt_embeds: (B, 77, 2048) float32, the two CLIP encoders' penultimate hidden
            states concatenated (768 + 1280) [(B, 77, 768), last hidden state; SD 2.1: 1024].
        pooled: (B, 1280) float32, text_encoder_2's projected EOS state [SD has no pooled
            conditioning: the mean of prompt_embeds over all 77 tokens, (B, 768), so the
            golden-noise models always get a pooled vector; the UNet never sees it].
        attention_mask: (B, 77) int64, all ones (the pipelines do not mask the UNet's
            cross-attention; padding tokens are part of the CLIP conditioning).

    Classifier-free guidance agrees with the pipeline: diffusers runs CFG only when
    guidance_scale > 1, so ``predict_noise`` with w <= 1 (Lightning's w = 0 included) is
    the conditional prediction alone, and the unconditional row is what the pipeline would
    use (SDXL with ``force_zeros_for_empty_prompt``: zero embeddings; otherwise the encoded
    ""). Guidance-distilled UNets (``time_cond_proj_dim`` set, e.g. LCM-SDXL) get w as an
    embedding of w - 1 in a single conditional pass, as in the pipeline. For v-prediction
    models (SD 2.1 768) the "noise" prediction is v; DDIM's step converts it.

    Args:
        pipe: from ``load_pipeline`` (or any supported pipeline on one device).
        height, width: image size in pixels, multiples of ``vae_scale_factor``; default
            ``unet.config.sample_size * vae_scale_factor`` (SDXL 1024, SD 1.5 512).
        sampler: the scheduler ``generate`` uses: "ddim" (``DDIMScheduler`` with the model's
            schedule, the same as ``gn_models.sampling.ddim.ddim_sample`` when
            ``sampler_config`` is empty) or a diffusers scheduler class name
            ("EulerDiscreteScheduler", "LCMScheduler", "TCDScheduler", ...), built
            ``from_config(model scheduler config, **sampler_config)``. DDIM and re-denoise
            always use the model's own schedule.
        sampler_config: overrides for the sampler, e.g. {"timestep_spacing": "trailing"}
            for SDXL-Lightning.

    Raises:
        ValueError: unsupported pipeline, a size not divisible by ``vae_scale_factor``, or
            ``sampler`` is not a diffusers scheduler.
    """

    kind = "diffusers"
    config_class = DiffusersBackendConfig
    family: ClassVar[PipelineFamily] = SD_FAMILY  # the pipeline classes accepted
    denoiser_attr: ClassVar[str] = "unet"  # the pipeline's denoising network

    def __init__(
        self,
        pipe: StableDiffusionXLPipeline | StableDiffusionPipeline,
        height: int | None = None,
        width: int | None = None,
        sampler: str = "ddim",
        sampler_config: dict[str, Any] | None = None,
    ):
        _check_supported(type(pipe), "the given pipeline", self.family)
        self.unet = pipe.unet
        self.is_sdxl = isinstance(pipe, StableDiffusionXLPipeline)
        self._init_pipeline(pipe, height, width, sampler, sampler_config)

    def _init_pipeline(
        self,
        pipe: DiffusionPipeline,
        height: int | None,
        width: int | None,
        sampler: str,
        sampler_config: dict[str, Any] | None,
    ) -> None:
        """What every pipeline backend sets up: device, dtype and latent channels of the
        denoiser (``pipe.<denoiser_attr>``), image size, the model's schedule, the sampler.

        Raises:
            ValueError: a size that is not a multiple of the VAE scale factor (times the
                patch size of a patchifying transformer), or an unknown sampler.
        """
        net = getattr(pipe, self.denoiser_attr)
        self.pipe = pipe
        self.vae = pipe.vae
        self.device = net.device
        self.dtype = net.dtype
        self.latent_channels = int(net.config.in_channels)
        self.unet_calls = self.unet_rows = 0
        self.vae_scale_factor = int(pipe.vae_scale_factor)
        size = net.config.sample_size
        size_h, size_w = (size, size) if isinstance(size, int) else tuple(size)
        self.height = int(height or size_h * self.vae_scale_factor)
        self.width = int(width or size_w * self.vae_scale_factor)
        patch = int(net.config.get("patch_size") or 1)
        multiple = self.vae_scale_factor * patch
        if self.height % multiple or self.width % multiple:
            factor = f"the VAE scale factor {self.vae_scale_factor}"
            factor += f" x the patch size {patch}" if patch > 1 else ""
            raise ValueError(
                f"height {self.height} and width {self.width} must be multiples of {multiple} "
                f"({factor})."
            )
        # The model's training schedule, taken before generate() swaps pipe.scheduler. SD and
        # SDXL configs state clip_sample and set_alpha_to_one False; where a saved config
        # lacks them, DDIMScheduler's defaults (True, for pixel-space models) would clip the
        # predicted x_0 of a latent model to [-1, 1], so False is filled in.
        self._scheduler_config = {
            "clip_sample": False,
            "set_alpha_to_one": False,
            **{k: v for k, v in pipe.scheduler.config.items() if not k.startswith("_")},
        }
        self.sampler = sampler
        self.sampler_config = dict(sampler_config or {})
        self.make_sampler()  # fail early on an unknown sampler name
        pipe.set_progress_bar_config(disable=True)

    @classmethod
    def from_config(cls, config: DiffusersBackendConfig, device: str = "auto") -> DiffusersBackend:
        """The configured pipeline as a backend. The pipeline's weights are cached per process
        (one model at a time), so the steps of an in-process run load them once."""
        pipe = _cached_pipeline(
            config.model, resolve_device(device), config.dtype, config.variant, cls.family
        )
        return cls(
            pipe,
            config.height or None,
            config.width or None,
            config.sampler,
            dict(config.sampler_config),
        )

    @classmethod
    def prepare(
        cls, config: DiffusersBackendConfig, directory: Path, device: str = "auto"
    ) -> PreparedModel:
        """Load the pretrained pipeline once to verify its weights, and record in
        ``directory/model.json`` which weights, pipeline, dtype and shapes the graph uses
        (the weights stay where they are). Raises as ``load_pipeline`` does."""
        backend = cls.from_config(config, device)
        embeds = backend.encode_prompts(["a photo of a cat"])
        net = getattr(backend.pipe, cls.denoiser_attr)
        record = {
            "model": config.model,
            "snapshot": model_snapshot(config.model),
            "variant": config.variant,
            "pipeline": type(backend.pipe).__name__,
            "dtype": str(backend.dtype).removeprefix("torch."),
            "latent_shape": list(backend.latent_shape),
            "prompt_embeds_shape": list(embeds.prompt_embeds.shape[1:]),
            "pooled_dim": int(embeds.pooled.shape[1]),
            **{f"{name}_shape": list(t.shape[1:]) for name, t in embeds.extra.items()},
            f"{cls.denoiser_attr}_parameters": sum(p.numel() for p in net.parameters()),
            "sampler": config.sampler,
            "scheduler": type(backend.pipe.scheduler).__name__,  # the model's own
        }
        write_record(directory / RECORD_FILE, record)
        return PreparedModel({k: str(v) if isinstance(v, list) else v for k, v in record.items()})

    @classmethod
    def load(
        cls, config: DiffusersBackendConfig, directory: Path, device: str = "auto"
    ) -> DiffusersBackend:
        """The configured pipeline, after checking that ``prepare`` recorded the same model.

        Raises:
            ValueError: the record names another model (rematerialize ``base_model``).
        """
        check_record(directory / RECORD_FILE, "model", config.model, "base_model")
        return cls.from_config(config, device)

    # -- DiffusionBackend -------------------------------------------------------------------

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(C, H/f, W/f) with f = vae_scale_factor: SDXL 1024 px -> (4, 128, 128)."""
        f = self.vae_scale_factor
        return (self.latent_channels, self.height // f, self.width // f)

    @property
    def scheduler_config(self) -> dict[str, Any]:
        """The model's own scheduler config (betas, num_train_timesteps, timestep_spacing,
        steps_offset, prediction_type), so DDIM and DDIM inversion use its training schedule.
        SDXL base: scaled_linear 0.00085..0.012, "leading", steps_offset 1, clip_sample and
        set_alpha_to_one False (filled in as False when absent). Only the keys the
        DDIM schedulers take are kept (DDIMInverseScheduler warns about Euler's others), and
        DDIM's thresholding keys only when thresholding is on (DDIM reads them only then;
        DDIMInverseScheduler does not take them); ``make_sampler`` uses the full config."""
        keys = set(inspect.signature(DDIMScheduler.__init__).parameters)
        keys |= set(inspect.signature(DDIMInverseScheduler.__init__).parameters)
        if not self._scheduler_config.get("thresholding"):
            keys -= {"thresholding", "dynamic_thresholding_ratio", "sample_max_value"}
        return {k: v for k, v in self._scheduler_config.items() if k in keys}

    @property
    def prompt_tokenizer(self):
        """The (first) CLIP tokenizer and its context (77 tokens for SD and SDXL)."""
        tokenizer = self.pipe.tokenizer
        return tokenizer, tokenizer.model_max_length

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> PromptEmbeds:
        """Encode prompts with ``pipe.encode_prompt`` (no CFG duplication).

        Returns:
            PromptEmbeds on ``self.device``, float32: prompt_embeds (B, 77, D), attention_mask
            (B, 77) int64 ones, pooled (B, D') (see the class docstring for D, D').
        """
        prompts = list(prompts)
        if self.is_sdxl:
            embeds, _, pooled, _ = self.pipe.encode_prompt(
                prompt=prompts,
                device=self.device,
                num_images_per_prompt=1,
                do_classifier_free_guidance=False,
            )
            pooled = pooled.float()
        else:
            embeds, _ = self.pipe.encode_prompt(
                prompts, self.device, 1, do_classifier_free_guidance=False
            )
            pooled = embeds.float().mean(dim=1)  # (B, D): stand-in for the golden-noise models
        embeds = embeds.float()
        mask = torch.ones(embeds.shape[:2], dtype=torch.int64, device=self.device)
        return PromptEmbeds(embeds, mask, pooled)

    def unconditional(self, batch_size: int) -> PromptEmbeds:
        """The pipeline's negative conditioning, ``batch_size`` rows (cached): zeros for SDXL
        with ``force_zeros_for_empty_prompt`` (SDXL base: True), else the encoded ""."""
        if getattr(self, "_uncond", None) is None:
            uncond = self.encode_prompts([""])
            if self.is_sdxl and self.pipe.config.get("force_zeros_for_empty_prompt", False):
                uncond = PromptEmbeds(
                    torch.zeros_like(uncond.prompt_embeds),
                    uncond.attention_mask,
                    torch.zeros_like(uncond.pooled),
                )
            self._uncond = uncond
        return self._uncond.index([0] * batch_size)

    def time_ids(self, batch_size: int) -> torch.Tensor:
        """SDXL micro-conditioning (B, 6): original_size + crops_coords_top_left + target_size
        = (H, W, 0, 0, H, W), as the pipeline's ``_get_add_time_ids`` builds by default."""
        ids = [self.height, self.width, 0, 0, self.height, self.width]
        return torch.tensor([ids], dtype=self.dtype, device=self.device).repeat(batch_size, 1)

    @property
    def guidance_embedded(self) -> bool:
        """True for guidance-distilled UNets (LCM-style ``time_cond_proj_dim``): w enters as
        an embedding and the pipeline never runs CFG."""
        return self.unet.config.time_cond_proj_dim is not None

    def _forward(
        self, x: torch.Tensor, t: torch.Tensor, cond: PromptEmbeds, guidance: float = 1.0
    ) -> torch.Tensor:
        """One UNet pass; ``guidance`` matters only when ``guidance_embedded``."""
        kwargs: dict[str, Any] = {}
        if self.is_sdxl:
            kwargs["added_cond_kwargs"] = {
                "text_embeds": cond.pooled.to(self.device, self.dtype),
                "time_ids": self.time_ids(len(x)),
            }
        if self.guidance_embedded:
            w = torch.full((len(x),), guidance - 1.0)
            kwargs["timestep_cond"] = self.pipe.get_guidance_scale_embedding(
                w, embedding_dim=self.unet.config.time_cond_proj_dim
            ).to(self.device, x.dtype)
        return self.unet(
            x,
            t,
            encoder_hidden_states=cond.prompt_embeds.to(self.device, self.dtype),
            return_dict=False,
            **kwargs,
        )[0]

    @torch.no_grad()
    def denoiser(self, x: torch.Tensor, t: torch.Tensor, cond: PromptEmbeds) -> torch.Tensor:
        """Noise (or v) prediction (B, C, H/f, W/f), ``x``'s dtype, for latents x at t.

        SDXL adds ``added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids}``; a
        guidance-embedded UNet gets w = 1 (use ``predict_noise`` to pass another w)."""
        return self._forward(x, t, cond)

    @torch.no_grad()
    def predict_noise(
        self, x: torch.Tensor, t: torch.Tensor | int, cond: PromptEmbeds, cfg_scale: float
    ) -> torch.Tensor:
        """Guided prediction as the diffusers pipeline computes it (one counted UNet pass):
        w <= 1 -> conditional only; guidance-embedded UNets -> one conditional pass with w
        embedded; else e_u + w (e_c - e_u) over a batched [uncond, cond] pass (see
        ``DiffusionBackend.predict_noise``). Returns (B, C, H/f, W/f), x's dtype."""
        if self.guidance_embedded:
            self.unet_calls += 1
            self.unet_rows += len(x)
            return self._forward(x, torch.as_tensor(t, device=x.device), cond, cfg_scale)
        return super().predict_noise(x, t, cond, max(float(cfg_scale), 1.0))

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """VAE-decode latents (B, 4, H/f, W/f) to images (B, 3, H, W) float32 in [0, 1].

        Undoes the latent scaling as the pipeline does: z / scaling_factor, or
        z * latents_std / scaling_factor + latents_mean when the VAE config has them, plus
        shift_factor if set. An fp16 VAE with ``force_upcast`` (SDXL's) decodes in float32.
        """
        vae = self.vae
        upcast = vae.dtype == torch.float16 and vae.config.force_upcast
        if upcast:
            vae.to(torch.float32)
        try:
            z = latents.to(self.device, vae.dtype)
            cfg = vae.config
            mean, std = cfg.get("latents_mean"), cfg.get("latents_std")
            if mean is not None and std is not None:
                mean = torch.tensor(mean).view(1, -1, 1, 1).to(z)
                std = torch.tensor(std).view(1, -1, 1, 1).to(z)
                z = z * std / cfg.scaling_factor + mean
            else:
                z = z / cfg.scaling_factor
            if cfg.get("shift_factor") is not None:
                z = z + cfg.shift_factor
            image = vae.decode(z, return_dict=False)[0]  # (B, 3, H, W) in [-1, 1]
        finally:
            if upcast:
                vae.to(torch.float16)
        return (image.float() / 2 + 0.5).clamp(0, 1)

    # -- sampling through the pipeline ------------------------------------------------------

    def make_sampler(self) -> SchedulerMixin:
        """A fresh scheduler for ``generate``: ``sampler`` from the model's scheduler config
        with ``sampler_config`` applied.

        Raises:
            ValueError: ``sampler`` is neither "ddim" nor a diffusers scheduler class name.
        """
        if self.sampler.lower() == "ddim":
            cls = DDIMScheduler
        else:
            cls = getattr(diffusers, self.sampler, None)
            if not is_scheduler(self.sampler):
                compatible = sorted(c.__name__ for c in self.pipe.scheduler.compatibles)
                raise ValueError(
                    f"Unknown sampler {self.sampler!r}: use 'ddim' or a diffusers scheduler "
                    f"class name, e.g. one of {compatible}."
                )
        return cls.from_config(self._scheduler_config, **self.sampler_config)

    @torch.no_grad()
    def generate(
        self, x_T: torch.Tensor, cond: PromptEmbeds, cfg_scale: float, num_steps: int
    ) -> torch.Tensor:
        """Sample images from x_T with the pipeline itself and the configured sampler.

        x_T goes in as ``latents=`` (the pipeline multiplies it by the sampler's
        ``init_noise_sigma``: 1 for DDIM, sigma_max-based for Euler, so x_T stays N(0, I));
        ``cond`` and the backend's ``unconditional`` go in as (negative_)prompt_embeds and,
        for SDXL, (negative_)pooled_prompt_embeds. With sampler "ddim" this equals
        ``decode(ddim.ddim_sample(self, x_T, cond, cfg_scale, num_steps))``. The pipeline's
        scheduler is swapped for the call and restored (not thread-safe).

        Args:
            x_T: (B, C, H/f, W/f) initial noise (standard or golden); cast to ``self.dtype``.
            cond: prompt embeddings with B rows.
            cfg_scale: guidance_scale; <= 1 means no CFG (the pipeline's rule).
            num_steps: num_inference_steps.

        Returns:
            images (B, 3, H, W) float32 in [0, 1]. ``unet_calls`` grows by the number of
            sampler timesteps (= num_steps for first-order samplers).

        Raises:
            ValueError: x_T and cond have different batch sizes, or x_T's shape is not
                ``latent_shape``.
        """
        if len(x_T) != len(cond) or tuple(x_T.shape[1:]) != self.latent_shape:
            raise ValueError(
                f"x_T {tuple(x_T.shape)} must be (B, *{self.latent_shape}) with B = "
                f"{len(cond)} prompts."
            )
        kwargs = self._pipeline_kwargs(cond, cfg_scale)
        scheduler, original = self.make_sampler(), self.pipe.scheduler
        self.pipe.scheduler = scheduler
        try:
            images = self.pipe(
                latents=x_T.to(self.device, self.dtype),
                guidance_scale=float(cfg_scale),
                num_inference_steps=int(num_steps),
                height=self.height,
                width=self.width,
                output_type="pt",
                **kwargs,
            ).images
        finally:
            self.pipe.scheduler = original
        self.unet_calls += len(scheduler.timesteps)
        rows = len(x_T) * (2 if "negative_prompt_embeds" in kwargs else 1)
        self.unet_rows += len(scheduler.timesteps) * rows
        return images.float()

    def _pipeline_kwargs(self, cond: PromptEmbeds, cfg_scale: float) -> dict[str, Any]:
        """The conditioning arguments of ``pipe(...)`` for ``generate``: prompt_embeds and,
        for SDXL, pooled_prompt_embeds; with CFG (w > 1, no guidance embedding) the
        ``unconditional`` rows as negative_prompt_embeds (and negative_pooled_prompt_embeds)."""
        kwargs: dict[str, Any] = {
            "prompt_embeds": cond.prompt_embeds.to(self.device, self.dtype),
        }
        if self.is_sdxl:
            kwargs["pooled_prompt_embeds"] = cond.pooled.to(self.device, self.dtype)
        if cfg_scale > 1.0 and not self.guidance_embedded:
            uncond = self.unconditional(len(cond))
            kwargs["negative_prompt_embeds"] = uncond.prompt_embeds.to(self.device, self.dtype)
            if self.is_sdxl:
                kwargs["negative_pooled_prompt_embeds"] = uncond.pooled.to(self.device, self.dtype)
        return kwargs


@functools.lru_cache(maxsize=1)
def _cached_pipeline(
    model: str, device: str, dtype: str, variant: str, family: PipelineFamily = SD_FAMILY
):
    return load_pipeline(model, device, dtype, variant or None, family)


def model_snapshot(model: str) -> str:
    """The folder the weights load from: ``model`` itself when local, else the Hugging Face
    cache snapshot (named by the commit hash), so a new download changes the record."""
    from huggingface_hub import try_to_load_from_cache

    if Path(model).is_dir():
        return str(Path(model).resolve())
    found = try_to_load_from_cache(model, "model_index.json")
    return str(Path(found).parent) if isinstance(found, str) else ""
