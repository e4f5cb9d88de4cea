"""PickScore reward: a CLIP model fine-tuned on human preferences, through ``transformers``.

PickScore (Kirstain et al., "Pick-a-Pic: An Open Dataset of User Preferences for
Text-to-Image Generation", arXiv:2305.01569) is CLIP ViT-H-14 fine-tuned on the Pick-a-Pic
preference pairs. Its score for an image and a prompt is, as in the reference code
(github.com/yuvalkirstain/PickScore and the model card of ``yuvalkirstain/PickScore_v1``):

    image_emb = normalize(model.get_image_features(pixels))      # L2, (B, D)
    text_emb = normalize(model.get_text_features(tokens))        # L2, (B, D)
    score = model.logit_scale.exp() * (image_emb * text_emb).sum(-1)

one score per (image, prompt) pair, i.e. the diagonal of the reference's score matrix; the
reference's softmax over the images of one prompt is not applied. PickScore_v1's logit scale
is 100, so scores lie in [-100, 100]; typical ones are about 18-24.

Weights: the model from the Hugging Face repo ``yuvalkirstain/PickScore_v1`` (about 4 GB); the
processor (tokenizer, resize / centre crop / normalisation) from
``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``, the CLIP model PickScore was fine-tuned from. Both
load with ``local_files_only=True`` from a local folder or the Hugging Face cache; nothing is
downloaded at run time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from gn_models.rewards.pretrained import PretrainedReward
from gn_models.utils.device import resolve_device
from gn_models.utils.hf_cache import snapshot_folder
from gn_models.utils.validation import AT_LEAST_1, require

# transformers is imported where it is used: code that merely imports this module (Dagster
# definitions) should not pay for it.
if TYPE_CHECKING:
    from transformers import CLIPModel, CLIPProcessor

PICKSCORE_REPO = "yuvalkirstain/PickScore_v1"
PROCESSOR_REPO = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"


class PickScoreWeightsNotFoundError(FileNotFoundError):
    """The PickScore model or its processor is neither in a local folder nor in the Hugging
    Face cache. The message names the commands that fetch them."""


@dataclass
class PickScoreRewardConfig:
    """Settings of the PickScore reward.

    Attributes:
        model: HF repo id in the cache, or a local folder (``config.json`` and the weights).
        processor: HF repo id in the cache, or a local folder with the CLIP processor files
            (tokenizer, ``preprocessor_config.json``).
        batch_size: images per forward pass.
    """

    model: str = PICKSCORE_REPO
    processor: str = PROCESSOR_REPO
    batch_size: int = 16

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a batch size below 1."""
        require(self, AT_LEAST_1, "batch_size")


def _repo_or_default(name: str, default: str) -> str:
    """``name`` when it reads as a Hub repo id ("owner/name"), else ``default``."""
    return name if not Path(name).is_absolute() and name.count("/") == 1 else default


def _missing_weights_message(model: str, processor: str, err: Exception) -> str:
    from huggingface_hub import constants

    model_repo = _repo_or_default(model, PICKSCORE_REPO)
    processor_repo = _repo_or_default(processor, PROCESSOR_REPO)
    return (
        f"PickScore model {model!r} or processor {processor!r} is not in a local folder or "
        f"the Hugging Face cache ({constants.HF_HUB_CACHE}); nothing is downloaded. On a "
        "machine with internet, fetch them into the cache that HF_HOME points to:\n"
        f"  hf download {model_repo}\n"
        f'  hf download {processor_repo} --include "*.json" "*.txt"\n'
        "  (older clients: huggingface-cli download with the same arguments)\n"
        "the model is about 4 GB, the processor (tokenizer and image preprocessing) a few MB. "
        "Or pass local folders as `model` and `processor` (the sdxl profile: "
        "GN_PICKSCORE_MODEL, GN_PICKSCORE_PROCESSOR), e.g. made with "
        "CLIPModel.from_pretrained(...).save_pretrained(folder) and the same for "
        f"CLIPProcessor. Cause: {err}"
    )


def _embedding(output) -> torch.Tensor:
    """The projected embedding from get_image_features / get_text_features: a tensor in
    transformers 4.x, ``pooler_output`` of a model output in 5.x."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class PickScoreReward(PretrainedReward):
    """PickScore of each image against its own prompt; higher is better.

    Build with :meth:`from_pretrained` (or ``prepare`` / ``load`` in the pipeline). The model
    is kept in eval mode: fp16 on CUDA, fp32 on the CPU. Embeddings are normalised in fp32.

    Args:
        model: a transformers ``CLIPModel`` holding PickScore weights.
        processor: the matching ``CLIPProcessor`` (tokenizer and image processor).
        version: goes into score tables with the name, e.g. "PickScore_v1".
        batch_size: images per forward pass in :meth:`score` and :meth:`features`.

    ``score_range`` is (-s, s) with s = ``model.logit_scale.exp()``, the bound of
    s * cos(image, text).
    """

    kind = "pickscore"
    config_class = PickScoreRewardConfig
    recorded = ("model", "processor")
    name = "PickScore"

    def __init__(
        self, model: CLIPModel, processor: CLIPProcessor, version: str, batch_size: int = 16
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.version = version
        self.batch_size = batch_size
        self.device, self.dtype = model.device, model.dtype
        self.logit_scale = float(model.logit_scale.float().exp())
        self.score_range = (-self.logit_scale, self.logit_scale)
        self.max_length = model.config.text_config.max_position_embeddings  # 77 tokens

    @classmethod
    def from_pretrained(
        cls,
        model: str | Path = PICKSCORE_REPO,
        processor: str | Path = PROCESSOR_REPO,
        device: str | torch.device = "cpu",
        batch_size: int = 16,
    ) -> PickScoreReward:
        """Load PickScore without touching the network.

        Args:
            model: a local folder or a Hub repo id in the Hugging Face cache.
            processor: the same for the CLIP processor.
            device: where the model runs; CUDA runs in fp16, anything else in fp32.
            batch_size: images per forward pass.

        Returns:
            The reward; ``version`` is the model's last path component ("PickScore_v1").

        Raises:
            PickScoreWeightsNotFoundError: the model or the processor is missing (the message
                names the download commands).
        """
        from transformers import CLIPModel, CLIPProcessor

        model, processor = str(model), str(processor)
        try:
            clip = CLIPModel.from_pretrained(model, local_files_only=True)
            clip_processor = CLIPProcessor.from_pretrained(processor, local_files_only=True)
        except (OSError, ValueError) as err:  # ValueError: huggingface_hub's HFValidationError
            raise PickScoreWeightsNotFoundError(
                _missing_weights_message(model, processor, err)
            ) from err
        device = torch.device(device)
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        return cls(clip.to(device, dtype), clip_processor, Path(model).name, batch_size)

    @classmethod
    def from_config(cls, config: PickScoreRewardConfig, device: str = "auto") -> PickScoreReward:
        """PickScore as configured, cached per process (one at a time), so the steps of an
        in-process run load it once. Raises as :meth:`from_pretrained` does."""
        return _cached_pickscore(
            config.model, config.processor, resolve_device(device), config.batch_size
        )

    def weight_files(self, config: PickScoreRewardConfig) -> dict:
        """The snapshot folders of the model and the processor, and the logit scale."""
        return {
            "model_snapshot": snapshot_folder(config.model, "config.json"),
            "processor_snapshot": snapshot_folder(config.processor, "tokenizer_config.json"),
            "logit_scale": self.logit_scale,
        }

    def _image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        """(b, C, H, W) float in [0, 1] -> L2-normalised (b, D) float32 on ``self.device``."""
        # The processor resizes the shortest side (bicubic), centre-crops and normalises, as
        # for PIL images; do_rescale=False because the images are already in [0, 1].
        pixels = self.processor(images=images, return_tensors="pt", do_rescale=False)
        pixels = pixels["pixel_values"].to(self.device, self.dtype)  # (b, 3, S, S)
        features = _embedding(self.model.get_image_features(pixel_values=pixels))
        return F.normalize(features.float(), dim=-1)  # (b, D)

    def _check_images(self, images: torch.Tensor) -> None:
        if images.ndim != 4:
            raise ValueError(f"Expected images of shape (B, C, H, W); got {tuple(images.shape)}.")
        if not images.is_floating_point():
            raise ValueError(
                f"Expected float images in [0, 1]; got {images.dtype}. Divide uint8 images by 255."
            )

    @torch.no_grad()
    def score(
        self, images: torch.Tensor, prompts: list[str], labels: list[int | None] | None = None
    ) -> torch.Tensor:
        """PickScore of image i against prompt i.

        Args:
            images: (B, C, H, W) float in [0, 1], any size (C = 3; 1 and 4 are converted to RGB
                by the processor).
            prompts: B prompt texts; truncated to the model's 77 tokens.
            labels: ignored (PickScore needs no label).

        Returns:
            (B,) float32 on the CPU, in input order: logit_scale.exp() * cos(image, text).

        Raises:
            ValueError: ``len(prompts) != B``, images not 4-D or not floating point.
        """
        self._check_images(images)
        if len(prompts) != len(images):
            raise ValueError(f"Got {len(images)} images but {len(prompts)} prompts.")
        scores = []
        for start in range(0, len(images), self.batch_size):
            stop = start + self.batch_size
            image_emb = self._image_embeddings(images[start:stop])  # (b, D)
            # Encode each distinct prompt of the batch once (seeds share prompts).
            unique = list(dict.fromkeys(prompts[start:stop]))
            tokens = self.processor(
                text=unique,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)  # input_ids, attention_mask: (U, L) int64
            text_emb = _embedding(self.model.get_text_features(**tokens))
            text_emb = F.normalize(text_emb.float(), dim=-1)  # (U, D)
            row = {prompt: i for i, prompt in enumerate(unique)}
            index = torch.tensor([row[p] for p in prompts[start:stop]], device=self.device)
            cosine = (image_emb * text_emb[index]).sum(-1)  # (b,)
            scores.append((self.logit_scale * cosine).cpu())
        if not scores:
            return torch.zeros(0)
        return torch.cat(scores).float()

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised PickScore (CLIP) image embeddings.

        Args:
            images: (B, C, H, W) float in [0, 1].

        Returns:
            (B, D) float32 on the CPU (D = the projection width, 1024 for PickScore_v1).

        Raises:
            ValueError: images not 4-D or not floating point.
        """
        self._check_images(images)
        width = self.model.config.projection_dim
        batches = [
            self._image_embeddings(images[start : start + self.batch_size]).cpu()
            for start in range(0, len(images), self.batch_size)
        ]
        return torch.cat(batches) if batches else torch.zeros(0, width)


@functools.lru_cache(maxsize=1)
def _cached_pickscore(model: str, processor: str, device: str, batch_size: int):
    return PickScoreReward.from_pretrained(model, processor, device, batch_size)
