"""The backend for a diffusers pipeline that the user has already loaded.

``backend_for_pipeline(pipe)`` picks the family by the pipeline's class: ``DiffusersBackend``
for SD 1.x/2.x and SDXL (``StableDiffusionPipeline``, ``StableDiffusionXLPipeline`` and their
subclasses), ``DiTBackend`` for Hunyuan-DiT and PixArt-Sigma (``HunyuanDiTPipeline``,
``PixArtSigmaPipeline`` and subclasses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import DiffusionPipeline

from gn_models.backends.base import DiffusionBackend
from gn_models.backends.diffusers_backend import DiffusersBackend, PipelineFamily, load_pipeline
from gn_models.backends.dit_backend import DiTBackend

PIPELINE_BACKENDS: tuple[type[DiffusersBackend], ...] = (DiffusersBackend, DiTBackend)


def supported_pipelines() -> list[str]:
    """Names of the diffusers pipeline classes that ``backend_for_pipeline`` accepts."""
    return [cls.__name__ for backend in PIPELINE_BACKENDS for cls in backend.family.classes]


def backend_for_pipeline(
    pipe: Any,
    height: int | None = None,
    width: int | None = None,
    sampler: str = "ddim",
    sampler_config: dict[str, Any] | None = None,
) -> DiffusionBackend:
    """The backend over a loaded diffusers pipeline, by its class.

    Args:
        pipe: a loaded pipeline on one device (any dtype).
        height, width: image size in pixels; None = the model's default.
        sampler, sampler_config: the scheduler ``generate`` samples with ("ddim" or a
            diffusers scheduler class name) and overrides for its config.

    Returns:
        ``DiffusersBackend(pipe, ...)`` for SD/SDXL pipelines, ``DiTBackend(pipe, ...)`` for
        Hunyuan-DiT and PixArt-Sigma ones.

    Raises:
        ValueError: any other pipeline class (the message names it and the supported
            classes), or what the backend raises for the size or sampler.
    """
    for backend in PIPELINE_BACKENDS:
        if isinstance(pipe, backend.family.classes):
            return backend(pipe, height, width, sampler, sampler_config)
    raise ValueError(
        f"Golden noise does not support a {type(pipe).__name__}: use one of "
        f"{', '.join(supported_pipelines())} (or a subclass)."
    )


SUPPORTED_FAMILY = PipelineFamily(
    "golden noise",
    tuple(cls for backend in PIPELINE_BACKENDS for cls in backend.family.classes),
    "SD 1.x/2.x, SDXL, Hunyuan-DiT and PixArt-Sigma pipelines",
)


def load_supported_pipeline(
    model: str | Path,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype = "auto",
    variant: str | None = None,
) -> DiffusionPipeline:
    """Load a pipeline of any class ``backend_for_pipeline`` accepts, without touching the
    network; arguments, return and errors as ``diffusers_backend.load_pipeline``."""
    return load_pipeline(model, device, dtype, variant, SUPPORTED_FAMILY)
