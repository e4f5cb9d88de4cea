"""HPSv2 reward: Human Preference Score v2 through ``open_clip_torch``.

HPSv2 (Wu et al., "Human Preference Score v2", arXiv:2306.09341) is an open_clip ViT-H-14
fine-tuned on human preference pairs. Its score for an image and a prompt is the cosine of the
L2-normalised image and text features, with no logit scale (HPSv2's ``hpsv2/img_score.py``:
``image_features @ text_features.T`` on the normalised outputs of ``model(image, text)``).
Typical values are about 0.27-0.33; tables print it x100. v2.0 and v2.1 scores are not
comparable with each other.

The checkpoints (Hugging Face repo ``xswu/HPSv2``, about 2 GB each) hold the whole model under
``'state_dict'``, a layout that ``open_clip.create_model(arch, pretrained=PATH)`` reads, so the
``hpsv2`` PyPI package is never needed (its protobuf<4 pin breaks Dagster). Unlike that
package, the model is loaded once and images are scored in batches.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from gn_models.rewards.base import RewardModel
from gn_models.rewards.image_tensors import to_rgb
from gn_models.types import PreparedModel
from gn_models.utils.device import resolve_device
from gn_models.utils.records import check_record, write_record
from gn_models.utils.validation import AT_LEAST_1, one_of, require

# open_clip is imported where it is used: importing it takes ~10 s (timm, transformers), which
# code that merely imports this module (Dagster definitions) should not pay.

HPSV2_REPO = "xswu/HPSv2"
HPSV2_CHECKPOINTS = {"v2.0": "HPS_v2_compressed.pt", "v2.1": "HPS_v2.1_compressed.pt"}


class HPSv2CheckpointNotFoundError(FileNotFoundError):
    """No HPSv2 checkpoint at the given path or in the Hugging Face cache."""


class HPSv2CheckpointError(RuntimeError):
    """A checkpoint file exists but does not load as the requested open_clip architecture."""


def checkpoint_filename(version: str) -> str:
    """File name of an HPSv2 checkpoint in the ``xswu/HPSv2`` repo.

    Raises:
        ValueError: ``version`` is not "v2.0" or "v2.1".
    """
    if version not in HPSV2_CHECKPOINTS:
        raise ValueError(
            f"Unknown HPSv2 version {version!r}; choose one of {sorted(HPSV2_CHECKPOINTS)}."
        )
    return HPSV2_CHECKPOINTS[version]


def _download_hint(version: str) -> str:
    filename = checkpoint_filename(version)
    return (
        f"Download it (about 2 GB) with `hf download {HPSV2_REPO} {filename}` "
        f"(`huggingface-cli download {HPSV2_REPO} {filename}` on huggingface_hub < 1.0), "
        f"or pass the local path of {filename}."
    )


def find_hpsv2_checkpoint(
    version: str = "v2.1", path: str | Path = "", cache_dir: str | Path | None = None
) -> Path:
    """Locate an HPSv2 checkpoint on this machine; never downloads.

    Args:
        version: "v2.0" (HPS_v2_compressed.pt) or "v2.1" (HPS_v2.1_compressed.pt).
        path: an explicit local file; when given it wins and nothing else is searched.
        cache_dir: Hugging Face hub cache to search (default: the hub's own, ``HF_HUB_CACHE``).

    Returns:
        Path of the checkpoint file.

    Raises:
        ValueError: unknown ``version``.
        HPSv2CheckpointNotFoundError: ``path`` is not a file, or (no ``path``) the file is not
            in the Hugging Face cache; the message names the file and the download command.
    """
    filename = checkpoint_filename(version)
    if path:
        explicit = Path(path).expanduser()
        if explicit.is_file():
            return explicit
        raise HPSv2CheckpointNotFoundError(
            f"No HPSv2 {version} checkpoint at {explicit}. " + _download_hint(version)
        )
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(HPSV2_REPO, filename, cache_dir=cache_dir)
    if isinstance(cached, str) and Path(cached).is_file():
        return Path(cached)
    where = cache_dir if cache_dir is not None else "the default Hugging Face cache"
    raise HPSv2CheckpointNotFoundError(
        f"HPSv2 {version} checkpoint {filename} ({HPSV2_REPO}) is not in {where}. "
        + _download_hint(version)
    )


def preprocess(images: torch.Tensor, size: int = 224) -> torch.Tensor:
    """HPSv2's evaluation transform, on a batch of tensors.

    HPSv2 scores ``preprocess_val(PIL image)``: open_clip's ``image_transform(...,
    is_train=False, resize_longest_max=True)`` (``ResizeMaxSize``; open_clip 3.x calls it
    ``resize_mode='longest'``). Here, on the images' device:
      1. RGBA -> RGB and LA -> L by dropping alpha (what PIL's ``convert('RGB')`` does);
         1 channel -> 3.
      2. Resize the longest side to ``size`` (bicubic, antialiased, clamped to [0, 1] like
         PIL's 8-bit output); the other side is ``round(side * size / longest)``.
      3. Zero-pad (black, before normalising) to ``size x size``, centred; odd padding puts
         the extra row/column at the bottom/right, as open_clip does.
      4. Normalise with the OpenAI CLIP mean and std.

    Args:
        images: (B, C, H, W) float in [0, 1], C in {1, 2, 3, 4}.
        size: output side (the model's image size, 224 for HPSv2).

    Returns:
        (B, 3, size, size) float32, on the images' device.

    Raises:
        ValueError: not 4-D, not floating point, or an unsupported channel count.
    """
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    x = to_rgb(images)  # 1. Colour mode.
    # 2. Resize the longest side to `size` (open_clip's ResizeKeepRatio with longest=1).
    height, width = x.shape[-2:]
    ratio = max(height, width) / size
    new_h, new_w = round(height / ratio), round(width / ratio)
    if (new_h, new_w) != (height, width):
        x = F.interpolate(x, size=(new_h, new_w), mode="bicubic", antialias=True)
        x = x.clamp(0.0, 1.0)
    # 3. Centre zero-pad to a square (open_clip's CenterCropOrPad / ResizeMaxSize padding).
    pad_h, pad_w = size - new_h, size - new_w
    x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
    # 4. Normalise.
    mean = torch.tensor(OPENAI_DATASET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()  # (B, 3, size, size)


RECORD_FILE = "reward.json"  # what ``prepare`` writes: which checkpoint the graph uses


@dataclass
class HPSv2RewardConfig:
    """Settings of the HPSv2 reward.

    Attributes:
        version: "v2.1" (the paper's reward) or "v2.0"; never mixed in one table.
        checkpoint: local path of the checkpoint; "" = the HF cache (xswu/HPSv2).
        arch: open_clip architecture of the checkpoint (ViT-H-14 for HPSv2).
        batch_size: images per forward pass.
    """

    version: str = "v2.1"
    checkpoint: str = ""
    arch: str = "ViT-H-14"
    batch_size: int = 16

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): an unknown version or a batch size below 1."""
        require(self, one_of(HPSV2_CHECKPOINTS), "version")
        require(self, AT_LEAST_1, "batch_size")


class HPSv2Reward(RewardModel):
    """HPSv2 score of each image against its own prompt; higher is better.

    Build with :meth:`from_checkpoint` (or ``prepare`` / ``load`` in the pipeline). The model
    is created once and kept in eval mode: fp16 on CUDA, fp32 on the CPU. Features are
    normalised in fp32.

    Args:
        model: an open_clip CLIP model holding HPSv2 weights.
        tokenizer: the matching open_clip tokenizer (``open_clip.get_tokenizer(arch)``).
        version: "v2.0" or "v2.1"; goes into score tables (the two are not comparable).
        batch_size: images per forward pass in :meth:`score`.
    """

    kind = "hpsv2"
    config_class = HPSv2RewardConfig
    name = "HPSv2"
    score_range = (-1.0, 1.0)  # a cosine similarity

    def __init__(
        self, model: torch.nn.Module, tokenizer, version: str = "v2.1", batch_size: int = 16
    ):
        checkpoint_filename(version)  # validates the version
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.version = version
        self.batch_size = batch_size
        first = next(model.parameters())
        self.device, self.dtype = first.device, first.dtype
        image_size = model.visual.image_size
        if isinstance(image_size, (tuple, list)):
            if image_size[0] != image_size[1]:
                raise ValueError(f"HPSv2 needs a square input size; the model has {image_size}.")
            image_size = image_size[0]
        self.image_size = int(image_size)

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | Path,
        version: str = "v2.1",
        arch: str = "ViT-H-14",
        device: str | torch.device = "cpu",
        batch_size: int = 16,
    ) -> HPSv2Reward:
        """Build the open_clip model ``arch`` and load an HPSv2 checkpoint into it.

        Args:
            checkpoint: local checkpoint file ({'state_dict': ...}, e.g. from
                :func:`find_hpsv2_checkpoint`).
            version: "v2.0" or "v2.1", the checkpoint's version.
            arch: open_clip architecture name; HPSv2 is "ViT-H-14".
            device: where the model runs; CUDA runs in fp16, anything else in fp32.
            batch_size: images per forward pass in :meth:`score`.

        Raises:
            ValueError: unknown version or architecture.
            HPSv2CheckpointNotFoundError: ``checkpoint`` is not a file.
            HPSv2CheckpointError: the file does not load as ``arch`` (corrupt, truncated or
                from another architecture).
        """
        import open_clip

        checkpoint_filename(version)
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise HPSv2CheckpointNotFoundError(
                f"No HPSv2 {version} checkpoint at {path}. " + _download_hint(version)
            )
        if arch not in open_clip.list_models():
            raise ValueError(
                f"Unknown open_clip architecture {arch!r}; HPSv2 uses 'ViT-H-14'. "
                "See open_clip.list_models()."
            )
        device = torch.device(device)
        precision = "fp16" if device.type == "cuda" else "fp32"
        try:
            model = open_clip.create_model(
                arch, pretrained=str(path), precision=precision, device=device
            )
        except Exception as err:
            detail = str(err)
            detail = detail if len(detail) <= 400 else detail[:400] + " ..."
            raise HPSv2CheckpointError(
                f"Could not load {path} as an open_clip {arch} model "
                f"({type(err).__name__}: {detail}). HPSv2 checkpoints are {arch} state dicts "
                f"under 'state_dict'; if the file is truncated or corrupt, delete it and "
                "download it again. " + _download_hint(version)
            ) from err
        return cls(model, open_clip.get_tokenizer(arch), version, batch_size)

    @classmethod
    def from_config(cls, config: HPSv2RewardConfig, device: str = "auto") -> HPSv2Reward:
        """HPSv2 from the configured checkpoint, cached per process (one at a time), so the
        steps of an in-process run load it once. Raises as ``find_hpsv2_checkpoint`` and
        ``from_checkpoint`` do."""
        checkpoint = str(find_hpsv2_checkpoint(config.version, config.checkpoint))
        return _cached_hpsv2(
            checkpoint, config.version, config.arch, resolve_device(device), config.batch_size
        )

    @classmethod
    def prepare(
        cls, config: HPSv2RewardConfig, directory: Path, device: str = "auto"
    ) -> PreparedModel:
        """Load the checkpoint once to verify it, score a grey square, and record name,
        version, checkpoint and architecture in ``directory/reward.json``."""
        reward = cls.from_config(config, device)
        checkpoint = find_hpsv2_checkpoint(config.version, config.checkpoint)
        with torch.no_grad():
            check = reward.score(torch.full((1, 3, 64, 64), 0.5), ["a grey square"], [None])
        record = {
            "name": reward.name,
            "version": reward.version,
            "checkpoint": str(checkpoint),
            "arch": config.arch,
        }
        write_record(directory / RECORD_FILE, record)
        return PreparedModel(
            {
                "reward": f"{reward.name} {reward.version}",
                "checkpoint": str(checkpoint),
                "arch": config.arch,
                "score_of_grey_square": float(check[0]),
            }
        )

    @classmethod
    def load(cls, config: HPSv2RewardConfig, directory: Path, device: str = "auto") -> HPSv2Reward:
        """HPSv2 as configured, after checking that ``prepare`` recorded the same version.

        Raises:
            ValueError: the record holds another version (rematerialize the reward asset).
        """
        check_record(directory / RECORD_FILE, "version", config.version, "the reward model")
        return cls.from_config(config, device)

    @torch.no_grad()
    def score(
        self, images: torch.Tensor, prompts: list[str], labels: list[int | None] | None = None
    ) -> torch.Tensor:
        """HPSv2 score of image i against prompt i.

        Args:
            images: (B, C, H, W) float in [0, 1] (any size; RGBA and grayscale accepted).
            prompts: B prompt texts.
            labels: ignored (HPSv2 needs no label).

        Returns:
            (B,) float32 on the CPU, in input order: cos(image features, text features).

        Raises:
            ValueError: ``len(prompts) != B``, or images :func:`preprocess` rejects.
        """
        if len(prompts) != len(images):
            raise ValueError(f"Got {len(images)} images but {len(prompts)} prompts.")
        scores = []
        for start in range(0, len(images), self.batch_size):
            stop = start + self.batch_size
            pixels = preprocess(images[start:stop].to(self.device), self.image_size)
            image_features = self.model.encode_image(pixels.to(self.dtype)).float()
            # Encode each distinct prompt of the batch once (seeds share prompts).
            unique = list(dict.fromkeys(prompts[start:stop]))
            tokens = self.tokenizer(unique).to(self.device)  # (U, context_length) int64
            text_features = self.model.encode_text(tokens).float()  # (U, D)
            row = {prompt: i for i, prompt in enumerate(unique)}
            index = torch.tensor([row[p] for p in prompts[start:stop]], device=self.device)
            image_features = F.normalize(image_features, dim=-1)  # (b, D)
            text_features = F.normalize(text_features, dim=-1)[index]  # (b, D)
            scores.append((image_features * text_features).sum(-1).cpu())
        if not scores:
            return torch.zeros(0)
        return torch.cat(scores).float()


@functools.lru_cache(maxsize=1)
def _cached_hpsv2(checkpoint: str, version: str, arch: str, device: str, batch_size: int):
    return HPSv2Reward.from_checkpoint(checkpoint, version, arch, device, batch_size)
