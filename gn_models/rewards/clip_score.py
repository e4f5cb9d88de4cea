"""CLIPScore reward: how well an image matches its prompt under plain CLIP, through
``transformers``.

CLIPScore (Hessel et al., "CLIPScore: A Reference-free Evaluation Metric for Image
Captioning", arXiv:2104.08718) is, for an image v and a text c,

    CLIP-S(c, v) = w * max(cos(E_image(v), E_text(c)), 0),    w = 2.5

with CLIP ViT-B/32 as in the paper and its reference code (github.com/jmhessel/clipscore),
which also prefixes every text with "A photo depicts " (``prefix``; "" scores the bare
prompt). Scores lie in [0, w]; SDXL images against their prompts score about 0.8 (the NPNet
paper, arXiv:2411.09502, reports 0.820 for standard noise). Here E_image and E_text are the
projected embeddings of a transformers ``CLIPModel`` (``get_image_features`` /
``get_text_features``), L2-normalised in fp32; images are resized (shortest side, bicubic),
centre-cropped and normalised by the model's ``CLIPProcessor``, as CLIP's own preprocess does.

Weights: ``openai/clip-vit-base-patch32`` (about 600 MB), model and processor from the same
local folder or Hugging Face cache snapshot, loaded with ``local_files_only=True``; nothing is
downloaded at run time. The helpers below (``load_clip``, ``clip_image_embeddings``) also
serve the aesthetic reward, which runs CLIP ViT-L/14 the same way.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from gn_models.rewards.pretrained import PretrainedReward
from gn_models.utils.device import resolve_device
from gn_models.utils.hf_cache import snapshot_folder
from gn_models.utils.validation import AT_LEAST_1, Rule, require

# transformers is imported where it is used: code that merely imports this module (Dagster
# definitions) should not pay for it.
if TYPE_CHECKING:
    from transformers import CLIPModel, CLIPProcessor

CLIP_SCORE_MODEL = "openai/clip-vit-base-patch32"
CLIP_SCORE_WEIGHT = 2.5  # w of the paper
CLIP_SCORE_PREFIX = "A photo depicts"  # the reference code's text prefix
# What a transformers CLIP repo needs: config, processor and tokenizer files, the weights.
CLIP_DOWNLOAD_FILES = '--include "*.json" "*.txt" "*.safetensors"'

POSITIVE = Rule(lambda v: math.isfinite(v) and v > 0, "a finite number > 0")


class CLIPScoreWeightsNotFoundError(FileNotFoundError):
    """The CLIP model (with its processor) is neither in a local folder nor in the Hugging
    Face cache. The message names the command that fetches it."""


@dataclass
class CLIPScoreRewardConfig:
    """Settings of the CLIPScore reward.

    Attributes:
        model: HF repo id in the cache, or a local folder, holding a transformers CLIPModel
            and its CLIPProcessor files (``config.json``, weights, ``preprocessor_config.json``,
            tokenizer files).
        weight: w in w * max(cos, 0); the paper's 2.5.
        prefix: put before every prompt (with one space), as the reference code does; "" for
            none.
        batch_size: images per forward pass.
    """

    model: str = CLIP_SCORE_MODEL
    weight: float = CLIP_SCORE_WEIGHT
    prefix: str = CLIP_SCORE_PREFIX
    batch_size: int = 16

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a batch size below 1, a weight that is not
        a finite positive number."""
        require(self, AT_LEAST_1, "batch_size")
        require(self, POSITIVE, "weight")


def is_repo_id(name: str) -> bool:
    """Whether ``name`` reads as a Hub repo id ("owner/name") rather than a local path."""
    return not Path(name).is_absolute() and name.count("/") == 1 and not Path(name).exists()


def clip_download_hint(model: str, default: str, size: str) -> str:
    """The lines of a missing-weights message that say how to get the CLIP model ``model``
    (its own repo id when it reads as one, else ``default``)."""
    from huggingface_hub import constants

    repo = model if is_repo_id(model) else default
    return (
        f"It is not in a local folder or the Hugging Face cache ({constants.HF_HUB_CACHE}); "
        "nothing is downloaded. On a machine with internet, fetch it into the cache that "
        "HF_HOME points to:\n"
        f"  hf download {repo} {CLIP_DOWNLOAD_FILES}\n"
        "  (older clients: huggingface-cli download with the same arguments; a repo without "
        "safetensors weights needs pytorch_model.bin instead)\n"
        f"{size}. Or pass a local folder, made with CLIPModel.from_pretrained(...)"
        ".save_pretrained(folder) and the same for CLIPProcessor."
    )


def load_clip(
    model: str, device: str | torch.device, missing: Callable[[Exception], Exception]
) -> tuple[CLIPModel, CLIPProcessor]:
    """A transformers CLIP model and its processor, both from ``model``; never downloads.

    Args:
        model: a local folder or a Hub repo id in the Hugging Face cache.
        device: where the model runs; CUDA runs in fp16, anything else in fp32.
        missing: builds the error to raise when the files are missing, from the cause.

    Returns:
        (model in eval mode without gradients, on ``device``; processor).

    Raises:
        What ``missing`` returns: the model or the processor files are missing.
    """
    from transformers import CLIPModel, CLIPProcessor

    try:
        clip = CLIPModel.from_pretrained(model, local_files_only=True)
        processor = CLIPProcessor.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError) as err:  # ValueError: huggingface_hub's HFValidationError
        raise missing(err) from err
    device = torch.device(device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    return clip.to(device, dtype).eval().requires_grad_(False), processor


def _embedding(output) -> torch.Tensor:
    """The projected embedding from get_image_features / get_text_features: a tensor in
    transformers 4.x, ``pooler_output`` of a model output in 5.x."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def check_images(images: torch.Tensor) -> None:
    """Raises: ValueError: images not 4-D (B, C, H, W) or not floating point."""
    if images.ndim != 4:
        raise ValueError(f"Expected images of shape (B, C, H, W); got {tuple(images.shape)}.")
    if not images.is_floating_point():
        raise ValueError(
            f"Expected float images in [0, 1]; got {images.dtype}. Divide uint8 images by 255."
        )


def clip_image_embeddings(
    model: CLIPModel, processor: CLIPProcessor, images: torch.Tensor
) -> torch.Tensor:
    """(b, C, H, W) float in [0, 1] -> L2-normalised (b, D) float32 on the model's device.

    The processor resizes the shortest side (bicubic), centre-crops and normalises, as for
    PIL images; ``do_rescale=False`` because the images are already in [0, 1]."""
    pixels = processor(images=images, return_tensors="pt", do_rescale=False)
    pixels = pixels["pixel_values"].to(model.device, model.dtype)  # (b, 3, S, S)
    features = _embedding(model.get_image_features(pixel_values=pixels))
    return F.normalize(features.float(), dim=-1)  # (b, D)


def clip_text_embeddings(
    model: CLIPModel, processor: CLIPProcessor, texts: list[str]
) -> torch.Tensor:
    """L2-normalised (U, D) float32 text embeddings on the model's device; texts longer than
    the model's context (77 tokens) are truncated."""
    tokens = processor(
        text=texts,
        padding=True,
        truncation=True,
        max_length=model.config.text_config.max_position_embeddings,
        return_tensors="pt",
    ).to(model.device)  # input_ids, attention_mask: (U, L) int64
    return F.normalize(_embedding(model.get_text_features(**tokens)).float(), dim=-1)


def batched_features(reward, images: torch.Tensor, width: int) -> torch.Tensor:
    """``clip_image_embeddings`` of ``images`` in batches of ``reward.batch_size``, on the CPU;
    (B, width) float32 (``width`` gives the shape of an empty result)."""
    check_images(images)
    batches = [
        clip_image_embeddings(reward.model, reward.processor, images[i : i + reward.batch_size])
        .cpu()
        .float()
        for i in range(0, len(images), reward.batch_size)
    ]
    return torch.cat(batches) if batches else torch.zeros(0, width)


class CLIPScoreReward(PretrainedReward):
    """CLIPScore of each image against its own prompt; higher is better.

    Build with :meth:`from_pretrained` (or ``prepare`` / ``load`` in the pipeline). The model
    is kept in eval mode: fp16 on CUDA, fp32 on the CPU. Embeddings are normalised in fp32.

    Args:
        model: a transformers ``CLIPModel``.
        processor: the matching ``CLIPProcessor``.
        version: goes into score tables with the name: the model's folder or repo name, with
            the weight and prefix when they differ from the paper's.
        weight: w (2.5 in the paper).
        prefix: text put before each prompt ("A photo depicts" in the reference code).
        batch_size: images per forward pass.

    ``score_range`` is (0, w).
    """

    kind = "clip_score"
    config_class = CLIPScoreRewardConfig
    recorded = ("model", "weight", "prefix")
    name = "CLIPScore"

    def __init__(
        self,
        model: CLIPModel,
        processor: CLIPProcessor,
        version: str,
        weight: float = CLIP_SCORE_WEIGHT,
        prefix: str = CLIP_SCORE_PREFIX,
        batch_size: int = 16,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
        if not (math.isfinite(weight) and weight > 0):
            raise ValueError(f"weight must be a finite number > 0; got {weight}.")
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.version = version
        self.weight = float(weight)
        self.prefix = prefix
        self.batch_size = batch_size
        self.score_range = (0.0, self.weight)

    @classmethod
    def from_pretrained(
        cls,
        model: str | Path = CLIP_SCORE_MODEL,
        device: str | torch.device = "cpu",
        weight: float = CLIP_SCORE_WEIGHT,
        prefix: str = CLIP_SCORE_PREFIX,
        batch_size: int = 16,
    ) -> CLIPScoreReward:
        """Load the CLIP model and processor without touching the network.

        Args:
            model: a local folder or a Hub repo id in the Hugging Face cache.
            device: where the model runs; CUDA runs in fp16, anything else in fp32.
            weight, prefix, batch_size: as in :class:`CLIPScoreRewardConfig`.

        Returns:
            The reward; ``version`` is the model's last path component
            ("clip-vit-base-patch32"), plus ", w=..." / ", prefix=..." when those are not the
            paper's (scores of different settings are not comparable).

        Raises:
            CLIPScoreWeightsNotFoundError: the model or processor files are missing (the
                message names the download command).
        """
        model = str(model)

        def missing(err: Exception) -> Exception:
            hint = clip_download_hint(model, CLIP_SCORE_MODEL, "ViT-B/32 is about 600 MB")
            return CLIPScoreWeightsNotFoundError(
                f"CLIPScore model {model!r} is missing. {hint} Cause: {err}"
            )

        clip, processor = load_clip(model, device, missing)
        version = Path(model).name
        if weight != CLIP_SCORE_WEIGHT:
            version += f", w={weight:g}"
        if prefix != CLIP_SCORE_PREFIX:
            version += f", prefix={prefix!r}"
        return cls(clip, processor, version, weight, prefix, batch_size)

    @classmethod
    def from_config(cls, config: CLIPScoreRewardConfig, device: str = "auto") -> CLIPScoreReward:
        """CLIPScore as configured, cached per process (one at a time), so the steps of an
        in-process run load it once. Raises as :meth:`from_pretrained` does."""
        return _cached_clip_score(
            config.model, resolve_device(device), config.weight, config.prefix, config.batch_size
        )

    def weight_files(self, config: CLIPScoreRewardConfig) -> dict:
        """The snapshot folder of the CLIP model."""
        return {"model_snapshot": snapshot_folder(config.model, "config.json")}

    @torch.no_grad()
    def score(
        self, images: torch.Tensor, prompts: list[str], labels: list[int | None] | None = None
    ) -> torch.Tensor:
        """CLIPScore of image i against prompt i.

        Args:
            images: (B, C, H, W) float in [0, 1], any size (C = 3; 1 and 4 are converted to RGB
                by the processor).
            prompts: B prompt texts; with the prefix, truncated to the model's 77 tokens.
            labels: ignored.

        Returns:
            (B,) float32 on the CPU, in input order: w * max(cos(image, prefix + text), 0).

        Raises:
            ValueError: ``len(prompts) != B``, images not 4-D or not floating point.
        """
        check_images(images)
        if len(prompts) != len(images):
            raise ValueError(f"Got {len(images)} images but {len(prompts)} prompts.")
        # The reference code joins prefix and text with one space.
        lead = self.prefix if not self.prefix or self.prefix.endswith(" ") else self.prefix + " "
        scores = []
        for start in range(0, len(images), self.batch_size):
            stop = start + self.batch_size
            image_emb = clip_image_embeddings(self.model, self.processor, images[start:stop])
            # Encode each distinct prompt of the batch once (seeds share prompts).
            unique = list(dict.fromkeys(prompts[start:stop]))
            text_emb = clip_text_embeddings(self.model, self.processor, [lead + p for p in unique])
            row = {prompt: i for i, prompt in enumerate(unique)}
            index = torch.tensor([row[p] for p in prompts[start:stop]], device=image_emb.device)
            cosine = (image_emb * text_emb[index]).sum(-1)  # (b,)
            scores.append((self.weight * cosine.clamp(min=0.0)).cpu())
        if not scores:
            return torch.zeros(0)
        return torch.cat(scores).float()

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised CLIP image embeddings: (B, D) float32 on the CPU (D = 512 for
        ViT-B/32).

        Raises:
            ValueError: images not 4-D or not floating point.
        """
        return batched_features(self, images, self.model.config.projection_dim)


@functools.lru_cache(maxsize=1)
def _cached_clip_score(model: str, device: str, weight: float, prefix: str, batch_size: int):
    return CLIPScoreReward.from_pretrained(model, device, weight, prefix, batch_size)
