"""ImageReward: a BLIP model fine-tuned on human preferences, on transformers' BLIP classes.

ImageReward (Xu et al., "ImageReward: Learning and Evaluating Human Preferences for
Text-to-Image Generation", arXiv:2304.05977; github.com/THUDM/ImageReward) scores an image
and its prompt with BLIP: a ViT-L/16 image encoder, and BLIP's BERT text encoder whose layers
cross-attend to the image tokens; an MLP reads the text encoder's first ([CLS]) state. As in
the reference ``ImageReward.score``:

    image_embeds = blip.visual_encoder(preprocess(image))              # (1, 1 + 196, 1024)
    tokens = tokenizer(prompt, padding="max_length", truncation=True, max_length=35)
    text = blip.text_encoder(tokens, encoder_hidden_states=image_embeds)  # cross-attention
    reward = (mlp(text.last_hidden_state[:, 0]) - 0.16717362830052426) / 1.0333394966054072

with mlp = Linear(768, 1024) Dropout(0.2) Linear(1024, 128) Dropout(0.2) Linear(128, 64)
Dropout(0.1) Linear(64, 16) Linear(16, 1) (no activations), ``preprocess`` = resize the
shortest side to 224 (bicubic), centre crop 224, CLIP's mean and std, and the tokenizer
bert-base-uncased with BLIP's two added tokens ([DEC] as bos, [ENC]). The released model
works at 224 pixels (``BLIP_Pretrain(image_size=224, vit='large')``; the image size is read
from the checkpoint's position embeddings, 1 + (224/16)^2 = 197). Rewards are roughly
standard normal over the ImageReward training prompts (tables often print them x100: the NPNet
paper, arXiv:2411.09502, reports 58.01 for SDXL with standard noise).

Why not the ``image-reward`` package: version 1.5 pins ``timm==0.6.13`` (this project needs
timm>=1.0) and ``fairscale==0.4.13``, and downloads at load time. This module rebuilds the
model from ``transformers.BlipVisionModel`` and ``BlipTextModel`` (the ports of BLIP's
``vit.py`` and ``med.py``) and loads the released ``ImageReward.pt`` state dict through
:func:`map_checkpoint_keys` (BLIP's names -> transformers' names, as transformers'
``convert_blip_original_pytorch_to_hf.py`` renames them).

Weights: ``ImageReward.pt`` (about 1.8 GB) and ``med_config.json`` from the Hugging Face repo
``THUDM/ImageReward``, and the tokenizer from ``google-bert/bert-base-uncased``, from local
folders or the Hugging Face cache; nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from gn_models.rewards.clip_score import is_repo_id
from gn_models.rewards.image_tensors import to_rgb
from gn_models.rewards.linear_head import LinearHead
from gn_models.rewards.pretrained import PretrainedReward
from gn_models.utils.device import resolve_device
from gn_models.utils.hf_cache import snapshot_folder
from gn_models.utils.validation import AT_LEAST_1, require

if TYPE_CHECKING:
    from transformers import BlipTextConfig, BlipVisionConfig, PreTrainedTokenizerBase

IMAGE_REWARD_REPO = "THUDM/ImageReward"
IMAGE_REWARD_VERSION = "v1.0"  # "ImageReward-v1.0", the release in IMAGE_REWARD_REPO
CHECKPOINT_FILE = "ImageReward.pt"
MED_CONFIG_FILE = "med_config.json"
TOKENIZER_REPO = "google-bert/bert-base-uncased"
REWARD_MEAN = 0.16717362830052426  # the reference's normalisation of the MLP output
REWARD_STD = 1.0333394966054072
MAX_LENGTH = 35  # prompt tokens, as the reference tokenizes
BLIP_TOKENS = {"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]}
VIT_HEAD_DIM = 64  # BLIP's ViTs: 12 heads of 64 (base, 768 wide), 16 of 64 (large, 1024)
VIT_LAYER_NORM_EPS = 1e-6  # BLIP's vit.py: partial(nn.LayerNorm, eps=1e-6)
# CLIP's normalisation, which ImageReward's preprocess uses.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# BLIP's vit.py names (after "blip.visual_encoder.") -> BlipVisionModel's names. Per block i:
# blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2} ->
# encoder.layers.i.{layer_norm1, self_attn.qkv, self_attn.projection, layer_norm2, mlp.fc1,
# mlp.fc2}. Both keep q, k, v fused in one (3 D, D) matrix, heads contiguous.
_VISION_RENAMES = (
    (r"^cls_token$", "embeddings.class_embedding"),
    (r"^pos_embed$", "embeddings.position_embedding"),
    (r"^patch_embed\.proj\.", "embeddings.patch_embedding."),
    (r"^blocks\.(\d+)\.norm1\.", r"encoder.layers.\1.layer_norm1."),
    (r"^blocks\.(\d+)\.attn\.qkv\.", r"encoder.layers.\1.self_attn.qkv."),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"encoder.layers.\1.self_attn.projection."),
    (r"^blocks\.(\d+)\.norm2\.", r"encoder.layers.\1.layer_norm2."),
    (r"^blocks\.(\d+)\.mlp\.(fc1|fc2)\.", r"encoder.layers.\1.mlp.\2."),
    (r"^norm\.", "post_layernorm."),
)
# Parts of the checkpoint that the reward does not use: BLIP_Pretrain's contrastive
# projections, and the position-id buffer that med.py saved with the weights.
_UNUSED = re.compile(r"^blip\.(vision_proj|text_proj)\.|\.position_ids$")


class ImageRewardWeightsNotFoundError(FileNotFoundError):
    """ImageReward.pt, med_config.json or the BERT tokenizer is neither local nor in the
    Hugging Face cache. The message names the commands that fetch them."""


class ImageRewardCheckpointError(RuntimeError):
    """A checkpoint file exists but does not load as ImageReward (corrupt, truncated, or
    another model's weights)."""


@dataclass
class ImageRewardConfig:
    """Settings of the ImageReward reward.

    Attributes:
        model: HF repo id in the cache, or a local folder, holding ``ImageReward.pt`` and
            ``med_config.json`` (the image-reward package's ~/.cache/ImageReward is one).
        tokenizer: HF repo id in the cache, or a local folder, of the bert-base-uncased
            tokenizer (``vocab.txt`` / ``tokenizer.json``, ``tokenizer_config.json``).
        batch_size: images per forward pass.
    """

    model: str = IMAGE_REWARD_REPO
    tokenizer: str = TOKENIZER_REPO
    batch_size: int = 16

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a batch size below 1."""
        require(self, AT_LEAST_1, "batch_size")


def _download_hint(model: str, tokenizer: str) -> str:
    from huggingface_hub import constants

    model_repo = model if is_repo_id(model) else IMAGE_REWARD_REPO
    tokenizer_repo = tokenizer if is_repo_id(tokenizer) else TOKENIZER_REPO
    return (
        f"Nothing is downloaded. On a machine with internet, fetch them into the cache that "
        f"HF_HOME points to (now {constants.HF_HUB_CACHE}):\n"
        f"  hf download {model_repo} {CHECKPOINT_FILE} {MED_CONFIG_FILE}\n"
        f'  hf download {tokenizer_repo} --include "*.json" "*.txt"\n'
        "  (older clients: huggingface-cli download with the same arguments)\n"
        f"{CHECKPOINT_FILE} is about 1.8 GB, the tokenizer a few hundred KB. Or pass a local "
        f"folder holding {CHECKPOINT_FILE} and {MED_CONFIG_FILE} as `model` (e.g. "
        "~/.cache/ImageReward, where the image-reward package puts them) and a folder with "
        "the tokenizer files as `tokenizer`."
    )


def find_image_reward_files(
    model: str | Path = IMAGE_REWARD_REPO,
    tokenizer: str = TOKENIZER_REPO,
    cache_dir: str | Path | None = None,
) -> tuple[Path, Path]:
    """Locate ``ImageReward.pt`` and ``med_config.json``; never downloads.

    Args:
        model: a local folder holding both, or an HF repo id whose cache snapshot holds them.
        tokenizer: only for the message (the tokenizer download it names).
        cache_dir: Hugging Face hub cache to search (default: the hub's own, ``HF_HUB_CACHE``).

    Returns:
        (checkpoint path, med_config path).

    Raises:
        ImageRewardWeightsNotFoundError: a file is missing (the message names the download).
    """
    name = str(model)
    path = Path(name).expanduser()
    found: dict[str, Path | None] = {}
    if path.is_dir():
        for filename in (CHECKPOINT_FILE, MED_CONFIG_FILE):
            found[filename] = path / filename if (path / filename).is_file() else None
        where = f"the folder {path}"
    elif is_repo_id(name):
        from huggingface_hub import constants, try_to_load_from_cache

        for filename in (CHECKPOINT_FILE, MED_CONFIG_FILE):
            cached = try_to_load_from_cache(name, filename, cache_dir=cache_dir)
            ok = isinstance(cached, str) and Path(cached).is_file()
            found[filename] = Path(cached) if ok else None
        where = f"the Hugging Face cache ({cache_dir or constants.HF_HUB_CACHE}) for {name}"
    else:
        found = dict.fromkeys((CHECKPOINT_FILE, MED_CONFIG_FILE))
        where = f"{path} (no such folder)"
    missing = [filename for filename, file in found.items() if file is None]
    if missing:
        raise ImageRewardWeightsNotFoundError(
            f"ImageReward's {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
            f"not in {where}. " + _download_hint(name, tokenizer)
        )
    return found[CHECKPOINT_FILE], found[MED_CONFIG_FILE]


def load_tokenizer(tokenizer: str | Path, model: str = IMAGE_REWARD_REPO):
    """The bert-base-uncased tokenizer with BLIP's added tokens ([DEC] as bos, [ENC]), as the
    reference's ``init_tokenizer``; never downloads.

    Raises:
        ImageRewardWeightsNotFoundError: the tokenizer files are missing.
    """
    from transformers import AutoTokenizer

    try:
        loaded = AutoTokenizer.from_pretrained(str(tokenizer), local_files_only=True)
    except (OSError, ValueError) as err:  # ValueError: huggingface_hub's HFValidationError
        raise ImageRewardWeightsNotFoundError(
            f"ImageReward's tokenizer {str(tokenizer)!r} is missing. "
            + _download_hint(str(model), str(tokenizer))
            + f" Cause: {err}"
        ) from err
    loaded.add_special_tokens(BLIP_TOKENS)
    return loaded


def map_checkpoint_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a released ImageReward state dict (BLIP's names) to :class:`ImageRewardNet`'s.

    The mapping:
      * ``blip.visual_encoder.<k>`` -> ``vision_model.<k'>``, with k -> k' by
        ``_VISION_RENAMES`` (cls_token -> embeddings.class_embedding, pos_embed ->
        embeddings.position_embedding, patch_embed.proj -> embeddings.patch_embedding,
        blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2} ->
        encoder.layers.i.{layer_norm1, self_attn.qkv, self_attn.projection, layer_norm2,
        mlp.fc1, mlp.fc2}, norm -> post_layernorm);
      * ``blip.text_encoder.<k>`` -> ``text_encoder.<k>`` (BlipTextModel keeps med.py's
        names: embeddings.word_embeddings, encoder.layer.i.attention.self.query,
        encoder.layer.i.crossattention.self.key, ...);
      * ``mlp.layers.<k>`` -> ``mlp.layers.<k>``;
      * dropped: ``blip.vision_proj.*``, ``blip.text_proj.*`` (BLIP_Pretrain's contrastive
        heads, unused by the reward) and ``*.position_ids`` buffers.

    Raises:
        ImageRewardCheckpointError: a key that none of these rules covers (not an
            ImageReward checkpoint).
    """
    mapped, unknown = {}, []
    for key, value in state.items():
        if _UNUSED.search(key):
            continue
        if key.startswith("blip.visual_encoder."):
            rest = key[len("blip.visual_encoder.") :]
            for pattern, replacement in _VISION_RENAMES:
                renamed, count = re.subn(pattern, replacement, rest)
                if count:
                    mapped["vision_model." + renamed] = value
                    break
            else:
                unknown.append(key)
        elif key.startswith("blip.text_encoder."):
            mapped["text_encoder." + key[len("blip.text_encoder.") :]] = value
        elif key.startswith("mlp.layers."):
            mapped[key] = value
        else:
            unknown.append(key)
    if unknown:
        raise ImageRewardCheckpointError(
            f"Not an ImageReward checkpoint: {len(unknown)} keys outside blip.visual_encoder, "
            f"blip.text_encoder and mlp, e.g. {unknown[:5]}."
        )
    return mapped


def vision_config(mapped: dict[str, torch.Tensor]) -> BlipVisionConfig:
    """The ViT's config, read from the (mapped) weights' shapes: width and patch size from the
    patch embedding, image size from the position embeddings, depth from the layer count, MLP
    width from fc1; 64-wide heads and LayerNorm eps 1e-6 as BLIP's ViTs.

    Raises:
        ImageRewardCheckpointError: the shapes do not make a square BLIP ViT.
    """
    from transformers import BlipVisionConfig

    try:
        patch = mapped["vision_model.embeddings.patch_embedding.weight"]  # (D, 3, P, P)
        positions = mapped["vision_model.embeddings.position_embedding"].shape[1]  # 1 + G^2
        fc1 = mapped["vision_model.encoder.layers.0.mlp.fc1.weight"]  # (4 D, D)
    except KeyError as err:
        raise ImageRewardCheckpointError(f"The checkpoint has no ViT weight {err}.") from err
    width, patch_size = patch.shape[0], patch.shape[-1]
    grid = math.isqrt(positions - 1)
    layers = {
        int(m.group(1))
        for k in mapped
        if (m := re.match(r"vision_model\.encoder\.layers\.(\d+)\.", k))
    }
    if grid * grid != positions - 1 or width % VIT_HEAD_DIM or layers != set(range(len(layers))):
        raise ImageRewardCheckpointError(
            f"The checkpoint's ViT is not a BLIP ViT: {positions} positions, width {width}, "
            f"layers {sorted(layers)}."
        )
    return BlipVisionConfig(
        hidden_size=width,
        intermediate_size=fc1.shape[0],
        num_hidden_layers=len(layers),
        num_attention_heads=width // VIT_HEAD_DIM,
        image_size=grid * patch_size,
        patch_size=patch_size,
        hidden_act="gelu",
        layer_norm_eps=VIT_LAYER_NORM_EPS,
        attention_dropout=0.0,
    )


def text_config(med_config: dict[str, Any], encoder_width: int) -> BlipTextConfig:
    """BLIP's text encoder config from ``med_config.json`` (a BertConfig), cross-attending to
    ``encoder_width``-wide image tokens (the reference overrides med_config's encoder_width
    with the ViT's width)."""
    from transformers import BlipTextConfig

    keys = (
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "max_position_embeddings",
        "hidden_act",
        "layer_norm_eps",
        "pad_token_id",
    )
    settings = {k: med_config[k] for k in keys if k in med_config}
    # is_decoder=True builds the cross-attention blocks; forward(is_decoder=False) keeps the
    # self-attention bidirectional, as med.py's encoder ("multimodal") mode.
    return BlipTextConfig(
        **settings,
        encoder_hidden_size=encoder_width,
        is_decoder=True,
        bos_token_id=None,  # generation ids: unused by the encoder
        sep_token_id=None,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


class ImageRewardNet(nn.Module):
    """BLIP's ViT and text encoder with ImageReward's MLP, named so that
    :func:`map_checkpoint_keys` of a released checkpoint loads into it strictly.

    Args:
        vision: the ViT's config (:func:`vision_config`).
        text: the text encoder's config (:func:`text_config`).
    """

    def __init__(self, vision: BlipVisionConfig, text: BlipTextConfig):
        super().__init__()
        from transformers import BlipTextModel, BlipVisionModel

        self.vision_model = BlipVisionModel(vision)
        self.text_encoder = BlipTextModel(text, add_pooling_layer=False)
        self.mlp = LinearHead(text.hidden_size)

    def text_features(
        self, pixels: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """The text encoder's [CLS] state, cross-attending to the image tokens.

        Args:
            pixels: (B, 3, S, S) preprocessed images, in the model's dtype.
            input_ids, attention_mask: (B, L) int64 tokens of the B prompts.

        Returns:
            (B, hidden) in the model's dtype.
        """
        image_embeds = self.vision_model(pixel_values=pixels).last_hidden_state  # (B, N, Dv)
        image_atts = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=pixels.device)
        text = self.text_encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            encoder_hidden_states=image_embeds,
            encoder_attention_mask=image_atts,
            return_dict=True,
        )
        return text.last_hidden_state[:, 0, :]


def preprocess(images: torch.Tensor, size: int = 224) -> torch.Tensor:
    """ImageReward's transform on a batch of tensors: the reference applies torchvision's
    Resize(size, BICUBIC), CenterCrop(size), convert('RGB'), ToTensor, Normalize(CLIP mean,
    std) to PIL images. Here, on the images' device:
      1. RGBA -> RGB and LA -> L by dropping alpha; 1 channel -> 3.
      2. Resize the shortest side to ``size`` (bicubic, antialiased, clamped to [0, 1] like
         PIL's 8-bit output); the other side is ``int(size * long / short)``, as torchvision
         computes it. Images whose shortest side is already ``size`` are not resampled.
      3. Centre crop ``size x size`` (offsets ``round((side - size) / 2)``, as torchvision).
      4. Normalise with CLIP's mean and std.

    Args:
        images: (B, C, H, W) float in [0, 1], C in {1, 2, 3, 4}.
        size: output side (224 for the released model).

    Returns:
        (B, 3, size, size) float32 on the images' device.

    Raises:
        ValueError: not 4-D, not floating point, or an unsupported channel count.
    """
    x = to_rgb(images)
    height, width = x.shape[-2:]
    short, long = min(height, width), max(height, width)
    if short != size:
        new_long = int(size * long / short)
        new_h, new_w = (size, new_long) if height <= width else (new_long, size)
        x = F.interpolate(x, size=(new_h, new_w), mode="bicubic", antialias=True)
        x = x.clamp(0.0, 1.0)
    height, width = x.shape[-2:]
    top, left = round((height - size) / 2.0), round((width - size) / 2.0)  # as torchvision
    x = x[:, :, top : top + size, left : left + size]
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


class ImageReward(PretrainedReward):
    """ImageReward of each image against its own prompt; higher is better.

    Build with :meth:`from_pretrained` (or ``prepare`` / ``load`` in the pipeline). BLIP is
    kept in eval mode, fp16 on CUDA and fp32 on the CPU; the MLP and the normalisation run in
    fp32.

    Args:
        net: the model (:class:`ImageRewardNet` holding the released weights).
        tokenizer: bert-base-uncased with BLIP's added tokens (:func:`load_tokenizer`).
        version: goes into score tables with the name ("v1.0" for THUDM/ImageReward).
        batch_size: images per forward pass.

    ``score_range`` bounds every score whatever the image and prompt: the [CLS] state is a
    LayerNorm output gamma * u + beta with |u| <= sqrt(hidden), the MLP is affine (w, b), so
    mlp = (w * gamma) . u + (w . beta + b) lies within |w * gamma| sqrt(hidden) of its centre;
    normalised, and widened by 1% for rounding.
    """

    kind = "image_reward"
    config_class = ImageRewardConfig
    recorded = ("model", "tokenizer")
    name = "ImageReward"

    def __init__(
        self,
        net: ImageRewardNet,
        tokenizer: PreTrainedTokenizerBase,
        version: str = IMAGE_REWARD_VERSION,
        batch_size: int = 16,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
        vocab = net.text_encoder.config.vocab_size
        if len(tokenizer) > vocab:
            raise ValueError(
                f"The tokenizer has {len(tokenizer)} tokens but the text encoder embeds {vocab}; "
                f"ImageReward needs bert-base-uncased ({TOKENIZER_REPO}) with BLIP's 2 tokens."
            )
        self.net = net.eval().requires_grad_(False)
        self.net.mlp.float()
        self.tokenizer = tokenizer
        self.version = version
        self.batch_size = batch_size
        first = next(net.vision_model.parameters())
        self.device, self.dtype = first.device, first.dtype
        self.image_size = int(net.vision_model.config.image_size)
        self.score_range = self._score_bounds()

    def _score_bounds(self) -> tuple[float, float]:
        linears = [m for m in self.net.mlp.layers if isinstance(m, nn.Linear)]
        weight = torch.eye(linears[0].in_features, dtype=torch.float64)
        bias = torch.zeros(linears[0].in_features, dtype=torch.float64)
        for linear in linears:
            w, b = linear.weight.double().cpu(), linear.bias.double().cpu()
            weight, bias = w @ weight, w @ bias + b
        norm = self.net.text_encoder.encoder.layer[-1].output.LayerNorm
        gamma, beta = norm.weight.double().cpu(), norm.bias.double().cpu()
        centre = float(weight[0] @ beta + bias[0])
        half = float((weight[0] * gamma).norm()) * math.sqrt(gamma.numel()) * 1.01
        return (
            (centre - half - REWARD_MEAN) / REWARD_STD,
            (centre + half - REWARD_MEAN) / REWARD_STD,
        )

    @classmethod
    def from_pretrained(
        cls,
        model: str | Path = IMAGE_REWARD_REPO,
        tokenizer: str | Path = TOKENIZER_REPO,
        device: str | torch.device = "cpu",
        batch_size: int = 16,
        cache_dir: str | Path | None = None,
    ) -> ImageReward:
        """Load ImageReward without touching the network.

        Args:
            model: a local folder holding ImageReward.pt and med_config.json, or an HF repo id
                whose cache snapshot holds them.
            tokenizer: a local folder or an HF repo id in the cache (bert-base-uncased).
            device: where BLIP runs; CUDA runs in fp16, anything else in fp32.
            batch_size: images per forward pass.
            cache_dir: Hugging Face hub cache for the model files (default: the hub's own).

        Returns:
            The reward; ``version`` is "v1.0" for THUDM/ImageReward, else the folder's name.

        Raises:
            ImageRewardWeightsNotFoundError: a file or the tokenizer is missing (the message
                names the download commands).
            ImageRewardCheckpointError: the files do not load as ImageReward.
        """
        model, tokenizer = str(model), str(tokenizer)
        checkpoint, med_config = find_image_reward_files(model, tokenizer, cache_dir)
        bert = load_tokenizer(tokenizer, model)
        net = load_checkpoint(checkpoint, med_config)
        device = torch.device(device)
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        net.to(device)
        net.vision_model.to(dtype)  # the MLP stays in fp32
        net.text_encoder.to(dtype)
        version = IMAGE_REWARD_VERSION if model == IMAGE_REWARD_REPO else Path(model).name
        return cls(net, bert, version, batch_size)

    @classmethod
    def from_config(cls, config: ImageRewardConfig, device: str = "auto") -> ImageReward:
        """ImageReward as configured, cached per process (one at a time), so the steps of an
        in-process run load it once. Raises as :meth:`from_pretrained` does."""
        return _cached_image_reward(
            config.model, config.tokenizer, resolve_device(device), config.batch_size
        )

    def weight_files(self, config: ImageRewardConfig) -> dict:
        """The checkpoint and med_config files, the tokenizer snapshot and the score range."""
        checkpoint, med_config = find_image_reward_files(config.model, config.tokenizer)
        return {
            "checkpoint": str(checkpoint),
            "med_config": str(med_config),
            "tokenizer_snapshot": snapshot_folder(config.tokenizer, "tokenizer_config.json"),
            "score_range": list(self.score_range),
        }

    @torch.no_grad()
    def score(
        self, images: torch.Tensor, prompts: list[str], labels: list[int | None] | None = None
    ) -> torch.Tensor:
        """ImageReward of image i against prompt i.

        Args:
            images: (B, C, H, W) float in [0, 1] (any size; RGBA and grayscale accepted).
            prompts: B prompt texts; truncated to 35 tokens, as the reference does.
            labels: ignored.

        Returns:
            (B,) float32 on the CPU, in input order: (MLP([CLS] state) - mean) / std.

        Raises:
            ValueError: ``len(prompts) != B``, or images :func:`preprocess` rejects.
        """
        if len(prompts) != len(images):
            raise ValueError(f"Got {len(images)} images but {len(prompts)} prompts.")
        scores = []
        for start in range(0, len(images), self.batch_size):
            stop = start + self.batch_size
            pixels = preprocess(images[start:stop].to(self.device), self.image_size)
            tokens = self.tokenizer(
                list(prompts[start:stop]),
                padding="max_length",
                truncation=True,
                max_length=MAX_LENGTH,
                return_tensors="pt",
            ).to(self.device)
            text = self.net.text_features(
                pixels.to(self.dtype), tokens["input_ids"], tokens["attention_mask"]
            )
            raw = self.net.mlp(text.float()).squeeze(-1)  # (b,)
            scores.append(((raw - REWARD_MEAN) / REWARD_STD).cpu())
        if not scores:
            return torch.zeros(0)
        return torch.cat(scores).float()


def load_checkpoint(checkpoint: str | Path, med_config: str | Path) -> ImageRewardNet:
    """:class:`ImageRewardNet` holding a released checkpoint (fp32, on the CPU, eval mode).

    Raises:
        ImageRewardCheckpointError: the file does not load, has keys the mapping does not
            cover, or lacks weights the model needs (every weight must come from the file).
    """
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        med = json.loads(Path(med_config).read_text())
    except Exception as err:
        raise ImageRewardCheckpointError(
            f"Could not read {checkpoint} / {med_config} ({type(err).__name__}: "
            f"{str(err)[:400]}); if a file is truncated or corrupt, delete it and download it "
            "again. " + _download_hint(IMAGE_REWARD_REPO, TOKENIZER_REPO)
        ) from err
    if not isinstance(state, dict):
        raise ImageRewardCheckpointError(
            f"{checkpoint} holds a {type(state).__name__}, not a state dict."
        )
    mapped = map_checkpoint_keys(state)
    vision = vision_config(mapped)
    net = ImageRewardNet(vision, text_config(med, vision.hidden_size))
    try:
        missing, unexpected = net.load_state_dict(mapped, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ImageRewardCheckpointError(
            f"{checkpoint} does not fit the model that {med_config} describes: {str(err)[:600]}"
        ) from err
    if missing or unexpected:
        raise ImageRewardCheckpointError(
            f"{checkpoint} does not load as ImageReward: missing {missing[:5]} "
            f"({len(missing)}), unexpected {unexpected[:5]} ({len(unexpected)})."
        )
    return net.float().eval().requires_grad_(False)


@functools.lru_cache(maxsize=1)
def _cached_image_reward(model: str, tokenizer: str, device: str, batch_size: int):
    return ImageReward.from_pretrained(model, tokenizer, device, batch_size)
