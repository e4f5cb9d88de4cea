"""Golden noise in any diffusers script: golden latents to pass to a pipeline as ``latents=``.

    golden = GoldenNoise.from_pretrained("sdxl.pth", family="sdxl")
    latents = golden.latents(pipe, "a red cube on a blue sphere", seed=0)
    image = pipe("a red cube on a blue sphere", latents=latents).images[0]

``GoldenNoise`` wraps a golden-noise model: one of this project's checkpoints (a folder with
``config.json`` and ``model.safetensors``, any registered kind) or a released NPNet ``.pth``
(``gn_models.golden_noise.released_npnet``). For a loaded pipeline (SD 1.5/2.1, SDXL and its
family, Hunyuan-DiT, PixArt-Sigma; ``gn_models.backends.pipelines``), a prompt and a seed, it
draws x_T ~ N(0, I) from the seed, encodes the prompt with the pipeline's own text encoders
(the prompt_embeds the model was trained on) and returns the model's golden noise x'_T
(arXiv:2411.09502, Sec. 3.4). ``images`` samples the standard and the golden image of the
same seed in one call.

A model that does not fit the pipeline (latent shape, text-embedding width) is refused
before anything is sampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from gn_models.backends.base import DiffusionBackend
from gn_models.backends.pipelines import backend_for_pipeline
from gn_models.golden_noise.base import GoldenNoiseModel
from gn_models.golden_noise.registry import load_golden_model
from gn_models.golden_noise.released_npnet import load_released_npnet
from gn_models.utils.versions import POINTER, localize

RELEASED_SUFFIXES = (".pth", ".pt")


class PipelineMismatchError(ValueError):
    """The golden-noise model was built for other latents or prompt embeddings than the
    pipeline's. The message names each differing size and what to use instead."""


@dataclass
class GoldenImages:
    """Standard and golden images of the same prompts and seeds (row i: prompts[i], seeds[i]).

    Attributes:
        standard: images sampled from x_T, PIL RGB.
        golden: images sampled from the golden noise of that x_T, PIL RGB.
        prompts, seeds: per row.
    """

    standard: list[Image.Image]
    golden: list[Image.Image]
    prompts: list[str]
    seeds: list[int]

    def grid(self) -> Image.Image:
        """One image: a row per prompt, standard on the left, golden on the right."""
        from diffusers.utils import make_image_grid

        pairs = [image for row in zip(self.standard, self.golden, strict=True) for image in row]
        return make_image_grid(pairs, rows=len(self.standard), cols=2)


class GoldenNoise:
    """A golden-noise model (x_T, prompt) -> x'_T, ready for diffusers pipelines.

    Args:
        model: any ``GoldenNoiseModel`` (NPNet, FiLMNoiseNet, NoiseTransformer, NoiseGRU); it
            runs in float32 and follows the pipeline's device.
    """

    def __init__(self, model: GoldenNoiseModel):
        self.model = model.eval()

    @classmethod
    def from_pretrained(
        cls, path: str | Path, family: str | None = None, device: str | torch.device = "cpu"
    ) -> GoldenNoise:
        """Load one of our checkpoints or a released NPNet file.

        Args:
            path: a checkpoint folder written by this project (``config.json`` +
                ``model.safetensors``), a model asset's folder of the graph (e.g.
                ``artifacts/checkpoints/npnet``: its current version), or a released NPNet
                ``.pth`` file.
            family: for a ``.pth`` file, the pipeline family it was released for: "sdxl"
                (also SDXL-Lightning, LCM, PCM), "dreamshaper" or "hunyuan-dit"; ignored for
                our checkpoints, which record their architecture.
            device: where the model starts; it moves to each pipeline's device when used.

        Raises:
            FileNotFoundError: nothing at ``path``.
            ValueError: a ``.pth`` file without ``family`` or of another family; a checkpoint
                that is not a golden-noise model.
        """
        path = Path(path)
        if (path / POINTER).is_file():  # a versioned artifact folder: its current version
            path = localize(path)
        if path.is_dir():
            return cls(load_golden_model(path, device))
        if not path.exists():
            raise FileNotFoundError(
                f"No golden-noise model at {path}: pass a checkpoint folder (config.json and "
                "model.safetensors) or a released NPNet .pth file."
            )
        if path.suffix not in RELEASED_SUFFIXES:
            raise ValueError(
                f"{path} is neither a checkpoint folder (config.json and model.safetensors) "
                "nor a released NPNet .pth file."
            )
        if family is None:
            raise ValueError(
                f"{path} is a released NPNet file: name the family it was trained for, e.g. "
                "GoldenNoise.from_pretrained(path, family='sdxl') ('sdxl', 'dreamshaper', "
                "'hunyuan-dit')."
            )
        return cls(load_released_npnet(path, family, device))

    def noise_pair(
        self,
        pipe: Any,
        prompt: str | list[str],
        seed: int | list[int] = 0,
        *,
        height: int | None = None,
        width: int | None = None,
        guidance_scale: float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x_T and its golden noise x'_T for ``pipe``, each (B, C, H/f, W/f) in the pipeline's
        dtype on its device, B = number of prompts.

        Args:
            pipe: a loaded diffusers pipeline of a supported class.
            prompt: one prompt or B prompts.
            seed: one seed for every prompt, or B seeds; x_T of a seed is drawn on the CPU
                (``torch.Generator().manual_seed(seed)``), so a (prompt, seed) gives the same
                latents alone or in a batch and on any device.
            height, width: the image size the pipeline will be called with (pixels); None =
                the pipeline's default.
            guidance_scale: the CFG scale of the coming pipeline call; sequence models and
                chained one-step models pick their rollout length by it (None: the default).

        Raises:
            PipelineMismatchError: the model does not fit the pipeline (before any sampling).
            ValueError: an unsupported pipeline class, or seeds and prompts of different
                lengths.
        """
        prompts, seeds = _rows(prompt, seed)
        backend = _backend(pipe, height, width)
        embeds = backend.encode_prompts(prompts)
        self._check_fits(backend, embeds, pipe)
        x_T = backend.initial_noise(seeds)
        model = self.model.to(backend.device)
        return x_T, model.golden_noise(x_T, embeds, guidance_scale)

    def latents(self, pipe: Any, prompt: str | list[str], seed: int | list[int] = 0, **kwargs):
        """Golden latents x'_T (B, C, H/f, W/f) to pass as ``pipe(..., latents=...)``;
        arguments and errors as ``noise_pair``."""
        return self.noise_pair(pipe, prompt, seed, **kwargs)[1]

    def images(
        self, pipe: Any, prompt: str | list[str], seed: int | list[int] = 0, **pipe_kwargs
    ) -> GoldenImages:
        """The standard and the golden image of each prompt and seed: the same pipeline call
        (``pipe_kwargs``: num_inference_steps, guidance_scale, height, width, ...) from x_T
        and from x'_T. Errors as ``noise_pair``."""
        prompts, seeds = _rows(prompt, seed)
        x_T, golden = self.noise_pair(
            pipe,
            prompts,
            seeds,
            height=pipe_kwargs.get("height"),
            width=pipe_kwargs.get("width"),
            guidance_scale=pipe_kwargs.get("guidance_scale"),
        )
        standard = pipe(prompt=prompts, latents=x_T, **pipe_kwargs).images
        golden_images = pipe(prompt=prompts, latents=golden, **pipe_kwargs).images
        return GoldenImages(list(standard), list(golden_images), prompts, seeds)

    def _check_fits(self, backend: DiffusionBackend, embeds, pipe: Any) -> None:
        mismatches = self.model.input_mismatches(backend.latent_shape, embeds)
        if mismatches:
            sizes = "; ".join(f"{k}: model {m}, pipeline {p}" for k, (m, p) in mismatches.items())
            raise PipelineMismatchError(
                f"This {self.model.kind} does not fit {type(pipe).__name__} at "
                f"{backend.height}x{backend.width} px (x_T {backend.latent_shape}, "
                f"prompt_embeds {tuple(embeds.prompt_embeds.shape[1:])}): {sizes}. Use a model "
                "of this pipeline's family (released NPNet: 'sdxl' for SDXL-class pipelines "
                "at 1024 px, 'hunyuan-dit' for Hunyuan-DiT) or one trained on it."
            )


def _rows(prompt: str | list[str], seed: int | list[int]) -> tuple[list[str], list[int]]:
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    seeds = [int(seed)] * len(prompts) if isinstance(seed, int) else [int(s) for s in seed]
    if len(seeds) != len(prompts):
        raise ValueError(f"Got {len(prompts)} prompts and {len(seeds)} seeds: give one each.")
    return prompts, seeds


def _backend(pipe: Any, height: int | None, width: int | None) -> DiffusionBackend:
    """The backend over the user's pipeline, leaving its progress bar settings as they were
    (backends switch the bar off for their own sampling)."""
    bar = dict(getattr(pipe, "_progress_bar_config", {}))
    backend = backend_for_pipeline(pipe, height, width)
    pipe.set_progress_bar_config(**bar)
    return backend
