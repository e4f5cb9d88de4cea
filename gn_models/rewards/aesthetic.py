"""LAION aesthetic score (AES): the "improved aesthetic predictor" v2 on CLIP ViT-L/14.

The predictor (Schuhmann, github.com/christophschuhmann/improved-aesthetic-predictor, the
model behind LAION-Aesthetics v2; the "AES" of the NPNet paper, arXiv:2411.09502, which reports
6.037 for SDXL with standard noise) scores an image, regardless of its prompt, as in the
reference ``simple_inference.py``:

    emb = normalize(clip.encode_image(preprocess(image)))        # OpenAI CLIP ViT-L/14, L2
    score = MLP(emb)

with MLP = Linear(768, 1024) Dropout(0.2) Linear(1024, 128) Dropout(0.2) Linear(128, 64)
Dropout(0.1) Linear(64, 16) Linear(16, 1), no activations (as released), so the score is an
affine function of the unit-norm embedding; typical values are about 1-10 (good images 5.5+).

CLIP runs through ``transformers`` (``CLIPModel.get_image_features`` of
``openai/clip-vit-large-patch14`` is OpenAI's ``encode_image``, converted exactly; its
``CLIPProcessor`` does CLIP's resize / centre crop / normalisation), not ``open_clip``: the same
loader as PickScore and CLIPScore, no open_clip import (~10 s), and the repo is the CLIP that
SD 1.x pipelines already use, so it is often in the cache. The MLP weights are the released
``sac+logos+ava1-l14-linearMSE.pth`` (a state dict ``layers.0.weight`` ... ``layers.7.bias``,
3.7 MB), from a local path or the Hugging Face repo ``camenduru/improved-aesthetic-predictor``
in the cache. Nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from gn_models.rewards.clip_score import (
    batched_features,
    check_images,
    clip_download_hint,
    clip_image_embeddings,
    is_repo_id,
    load_clip,
)
from gn_models.rewards.linear_head import LinearHead
from gn_models.rewards.pretrained import PretrainedReward
from gn_models.utils.device import resolve_device
from gn_models.utils.hf_cache import snapshot_folder
from gn_models.utils.validation import AT_LEAST_1, require

if TYPE_CHECKING:
    from transformers import CLIPModel, CLIPProcessor

AESTHETIC_CLIP = "openai/clip-vit-large-patch14"
AESTHETIC_REPO = "camenduru/improved-aesthetic-predictor"
AESTHETIC_FILE = "sac+logos+ava1-l14-linearMSE.pth"
AESTHETIC_URL = (
    "https://github.com/christophschuhmann/improved-aesthetic-predictor/raw/main/"
    "sac%2Blogos%2Bava1-l14-linearMSE.pth"
)


class AestheticWeightsNotFoundError(FileNotFoundError):
    """The CLIP model or the predictor's MLP file is neither local nor in the Hugging Face
    cache. The message names the commands that fetch them."""


class AestheticPredictorError(RuntimeError):
    """The MLP file exists but is not the released predictor layout, or does not fit the CLIP
    model's embedding width."""


@dataclass
class AestheticRewardConfig:
    """Settings of the aesthetic (AES) reward.

    Attributes:
        clip: HF repo id in the cache, or a local folder, holding the transformers CLIP model
            and its processor; the predictor was trained on OpenAI CLIP ViT-L/14 embeddings.
        predictor: the MLP weights: a local ``.pth`` file, a local folder holding
            ``sac+logos+ava1-l14-linearMSE.pth``, or an HF repo id in the cache holding it.
        batch_size: images per forward pass.
    """

    clip: str = AESTHETIC_CLIP
    predictor: str = AESTHETIC_REPO
    batch_size: int = 16

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a batch size below 1."""
        require(self, AT_LEAST_1, "batch_size")


def _predictor_hint(predictor: str) -> str:
    repo = predictor if is_repo_id(predictor) else AESTHETIC_REPO
    return (
        "On a machine with internet, fetch it into the cache that HF_HOME points to:\n"
        f'  hf download {repo} "{AESTHETIC_FILE}"\n'
        "  (older clients: huggingface-cli download with the same arguments)\n"
        f"(3.7 MB; the original is {AESTHETIC_URL}). Or pass the local path of the file, or a "
        "folder holding it, as `predictor`."
    )


def find_predictor(predictor: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Locate the predictor's MLP file on this machine; never downloads.

    Args:
        predictor: a local file, a local folder holding ``sac+logos+ava1-l14-linearMSE.pth``,
            or an HF repo id whose cache snapshot holds that file.
        cache_dir: Hugging Face hub cache to search (default: the hub's own, ``HF_HUB_CACHE``).

    Returns:
        Path of the file.

    Raises:
        AestheticWeightsNotFoundError: none of these holds the file (the message names the
            download command).
    """
    name = str(predictor)
    path = Path(name).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / AESTHETIC_FILE).is_file():
            return path / AESTHETIC_FILE
        where = f"the folder {path}"
    elif is_repo_id(name):
        from huggingface_hub import constants, try_to_load_from_cache

        cached = try_to_load_from_cache(name, AESTHETIC_FILE, cache_dir=cache_dir)
        if isinstance(cached, str) and Path(cached).is_file():
            return Path(cached)
        where = f"the Hugging Face cache ({cache_dir or constants.HF_HUB_CACHE}) for {name}"
    else:
        where = f"{path} (no such file or folder)"
    raise AestheticWeightsNotFoundError(
        f"The aesthetic predictor {AESTHETIC_FILE} is not in {where}; nothing is downloaded. "
        + _predictor_hint(name)
    )


def load_predictor(path: str | Path, input_size: int) -> LinearHead:
    """The MLP from a released state dict file (fp32, eval mode, on the CPU).

    Raises:
        AestheticPredictorError: the file does not load as the released layout for
            ``input_size``-wide embeddings (corrupt, truncated, another model).
    """
    mlp = LinearHead(input_size)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        mlp.load_state_dict(state)
    except Exception as err:
        detail = str(err)
        detail = detail if len(detail) <= 400 else detail[:400] + " ..."
        raise AestheticPredictorError(
            f"Could not load {path} as the aesthetic predictor MLP on {input_size}-wide CLIP "
            f"embeddings ({type(err).__name__}: {detail}). The released "
            f"{AESTHETIC_FILE} is a state dict layers.0.weight ... layers.7.bias on CLIP "
            "ViT-L/14's 768-wide embeddings; if the file is truncated or corrupt, download it "
            "again. " + _predictor_hint(str(path))
        ) from err
    return mlp.float().eval().requires_grad_(False)


class AestheticReward(PretrainedReward):
    """LAION aesthetic score of each image, prompts ignored; higher is better.

    Build with :meth:`from_pretrained` (or ``prepare`` / ``load`` in the pipeline). CLIP is kept
    in eval mode, fp16 on CUDA and fp32 on the CPU; the embedding is normalised and the MLP
    applied in fp32.

    Args:
        model: a transformers ``CLIPModel`` (OpenAI ViT-L/14 for the released predictor).
        processor: its ``CLIPProcessor``.
        mlp: the predictor head (:func:`load_predictor`).
        version: goes into score tables with the name.
        batch_size: images per forward pass.

    ``score_range`` is the exact range of the affine MLP on unit vectors, b -+ |w| (widened by
    1e-3 |w| for rounding): every score lies in it whatever the image.
    """

    kind = "aesthetic"
    config_class = AestheticRewardConfig
    recorded = ("clip", "predictor")
    name = "AES"

    def __init__(
        self,
        model: CLIPModel,
        processor: CLIPProcessor,
        mlp: LinearHead,
        version: str,
        batch_size: int = 16,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
        width = model.config.projection_dim
        if mlp.layers[0].in_features != width:
            raise AestheticPredictorError(
                f"The predictor takes {mlp.layers[0].in_features}-wide embeddings but the CLIP "
                f"model gives {width}-wide ones; the released predictor needs OpenAI CLIP "
                f"ViT-L/14 ({AESTHETIC_CLIP})."
            )
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.mlp = mlp.to(model.device, torch.float32).eval().requires_grad_(False)
        self.version = version
        self.batch_size = batch_size
        weight, bias = self.mlp.affine()
        half = float(weight.norm()) * (1 + 1e-3)
        self.score_range = (bias - half, bias + half)

    @classmethod
    def from_pretrained(
        cls,
        clip: str | Path = AESTHETIC_CLIP,
        predictor: str | Path = AESTHETIC_REPO,
        device: str | torch.device = "cpu",
        batch_size: int = 16,
        cache_dir: str | Path | None = None,
    ) -> AestheticReward:
        """Load CLIP and the predictor without touching the network.

        Args:
            clip: a local folder or a Hub repo id in the Hugging Face cache.
            predictor: as in :class:`AestheticRewardConfig`.
            device: where CLIP runs; CUDA runs in fp16, anything else in fp32.
            batch_size: images per forward pass.
            cache_dir: Hugging Face hub cache for the predictor file (default: the hub's own).

        Returns:
            The reward; ``version`` is the predictor file's stem with the CLIP model's last
            path component, "sac+logos+ava1-l14-linearMSE (clip-vit-large-patch14)".

        Raises:
            AestheticWeightsNotFoundError: CLIP or the predictor file is missing (the message
                names the download commands).
            AestheticPredictorError: the predictor file does not load or does not fit CLIP.
        """
        clip, predictor = str(clip), str(predictor)
        path = find_predictor(predictor, cache_dir)

        def missing(err: Exception) -> Exception:
            hint = clip_download_hint(clip, AESTHETIC_CLIP, "ViT-L/14 is about 1.7 GB")
            return AestheticWeightsNotFoundError(
                f"The aesthetic predictor's CLIP model {clip!r} is missing. {hint} Cause: {err}"
            )

        model, processor = load_clip(clip, device, missing)
        mlp = load_predictor(path, model.config.projection_dim)
        version = f"{path.stem} ({Path(clip).name})"
        return cls(model, processor, mlp, version, batch_size)

    @classmethod
    def from_config(cls, config: AestheticRewardConfig, device: str = "auto") -> AestheticReward:
        """The aesthetic reward as configured, cached per process (one at a time), so the
        steps of an in-process run load it once. Raises as :meth:`from_pretrained` does."""
        return _cached_aesthetic(
            config.clip, config.predictor, resolve_device(device), config.batch_size
        )

    def weight_files(self, config: AestheticRewardConfig) -> dict:
        """The CLIP snapshot folder, the predictor file and the score range."""
        return {
            "clip_snapshot": snapshot_folder(config.clip, "config.json"),
            "predictor_file": str(find_predictor(config.predictor)),
            "score_range": list(self.score_range),
        }

    @torch.no_grad()
    def score(
        self, images: torch.Tensor, prompts: list[str], labels: list[int | None] | None = None
    ) -> torch.Tensor:
        """Aesthetic score of each image.

        Args:
            images: (B, C, H, W) float in [0, 1], any size (C = 3; 1 and 4 are converted to RGB
                by the processor).
            prompts: ignored (the predictor looks at the image only).
            labels: ignored.

        Returns:
            (B,) float32 on the CPU, in input order: MLP(normalize(CLIP image embedding)).

        Raises:
            ValueError: images not 4-D or not floating point.
        """
        check_images(images)
        scores = [
            self.mlp(
                clip_image_embeddings(self.model, self.processor, images[i : i + self.batch_size])
            )
            .squeeze(-1)
            .cpu()
            for i in range(0, len(images), self.batch_size)
        ]
        return torch.cat(scores).float() if scores else torch.zeros(0)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised CLIP image embeddings, the predictor's input: (B, D) float32 on the
        CPU (D = 768 for ViT-L/14).

        Raises:
            ValueError: images not 4-D or not floating point.
        """
        return batched_features(self, images, self.model.config.projection_dim)


@functools.lru_cache(maxsize=1)
def _cached_aesthetic(clip: str, predictor: str, device: str, batch_size: int):
    return AestheticReward.from_pretrained(clip, predictor, device, batch_size)
