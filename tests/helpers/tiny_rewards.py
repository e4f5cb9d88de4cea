"""Tiny random-weight ImageReward, aesthetic predictor and CLIPScore models, saved in the
released layouts, for tests that must not download.

Each builder writes under ``directory`` and returns the keyword arguments of its reward's
config (``ImageRewardConfig(**build_tiny_image_reward(d))`` etc.; ``build_tiny_pickscore``:
the (model, processor) folders of a PickScore-like CLIP):

* ``build_tiny_clip_score``: a transformers ``CLIPModel`` (32-pixel images, 8-pixel patches,
  width 32, 16-wide projection) and its ``CLIPProcessor`` in one folder, as the openai/clip-*
  repos hold them.
* ``build_tiny_aesthetic``: such a CLIP and the predictor MLP saved as
  ``sac+logos+ava1-l14-linearMSE.pth`` (a state dict ``layers.{0,2,4,6,7}.{weight,bias}``), on
  16-wide embeddings instead of 768.
* ``build_tiny_image_reward``: ``ImageReward.pt`` written key by key in BLIP's original names
  (``blip.visual_encoder.blocks.0.attn.qkv.weight``, ``blip.text_encoder.encoder.layer.0.
  crossattention.self.key.weight``, ``mlp.layers.0.weight``, ...; plus the unused
  ``blip.vision_proj`` / ``blip.text_proj`` and med.py's ``position_ids`` buffer, as the
  release has them), independently of the reward's key mapping; ``med_config.json``; and a
  BERT WordPiece tokenizer on a small local vocab.txt (letters, "##" letters, digits,
  punctuation). ViT: width 128 (2 heads of 64), 2 blocks, 16-pixel patches, 32-pixel images;
  text encoder: width 32, 2 heads, 2 layers.

With random weights no image is better than another: tests check formulas, plumbing, errors.
"""

from __future__ import annotations

import json
import math
import string
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

from helpers.tiny_pipelines import MAX_LENGTH, build_tokenizer

CLIP_IMAGE_SIZE = 32
CLIP_PROJECTION_DIM = 16
PICKSCORE_LOGIT_SCALE = 4.0
AESTHETIC_FILE = "sac+logos+ava1-l14-linearMSE.pth"
# The tiny ImageReward's sizes.
IR_VISION = {"width": 128, "layers": 2, "patch": 16, "image": 32}  # heads of 64, as BLIP
IR_TEXT = {"width": 32, "layers": 2, "heads": 2, "intermediate": 64, "positions": 64}
IR_MLP_WIDTHS = (1024, 128, 64, 16, 1)  # mlp.layers.{0,2,4,6,7}
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_clip(
    directory: str | Path, seed: int = 0, logit_scale: float | None = None, name: str = "clip"
) -> Path:
    """A seeded random CLIPModel and its CLIPProcessor saved together in ``directory/name``;
    ``logit_scale``: the model's log logit scale (else the init's log(1/0.07))."""
    directory = Path(directory)
    tokenizer = build_tokenizer(directory / "_vocab")
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_attention_heads": 2,
            "num_hidden_layers": 1,
            "max_position_embeddings": MAX_LENGTH,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "image_size": CLIP_IMAGE_SIZE,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_attention_heads": 2,
            "num_hidden_layers": 1,
        },
        projection_dim=CLIP_PROJECTION_DIM,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config)
    if logit_scale is not None:
        with torch.no_grad():
            model.logit_scale.fill_(logit_scale)
    folder = directory / name
    model.save_pretrained(folder)
    size = {"shortest_edge": CLIP_IMAGE_SIZE}
    crop = {"height": CLIP_IMAGE_SIZE, "width": CLIP_IMAGE_SIZE}
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(size=size, crop_size=crop), tokenizer=tokenizer
    )
    processor.save_pretrained(folder)
    return folder


def build_tiny_pickscore(root: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """A tiny PickScore-like CLIP with a logit scale of exp(4) = 54.6 (not the init's 14.3:
    a scale is applied); returns (model folder, processor folder) as
    ``PickScoreRewardConfig(model=..., processor=...)`` takes them (here one folder)."""
    folder = build_tiny_clip(root, seed, logit_scale=PICKSCORE_LOGIT_SCALE, name="model")
    return folder, folder


def build_tiny_clip_score(directory: str | Path, seed: int = 0) -> dict[str, str]:
    """A tiny CLIP for CLIPScore; returns ``{"model": folder}``."""
    return {"model": str(build_tiny_clip(directory, seed))}


def _linear(out_features: int, in_features: int, generator: torch.Generator) -> dict:
    bound = 1 / math.sqrt(in_features)
    weight = (torch.rand(out_features, in_features, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(out_features, generator=generator) * 2 - 1) * bound
    return {"weight": weight, "bias": bias}


def _mlp_state(input_size: int, generator: torch.Generator, prefix: str = "") -> dict:
    """The released MLP head's state dict (aesthetic predictor and ImageReward share it)."""
    state, width = {}, input_size
    for index, out in zip((0, 2, 4, 6, 7), IR_MLP_WIDTHS, strict=True):
        for name, value in _linear(out, width, generator).items():
            state[f"{prefix}layers.{index}.{name}"] = value
        width = out
    return state


def build_tiny_aesthetic(directory: str | Path, seed: int = 0) -> dict[str, str]:
    """A tiny CLIP and a seeded random predictor MLP on its 16-wide embeddings, saved as the
    release (``torch.save(state_dict)``); returns ``{"clip": folder, "predictor": file}``."""
    directory = Path(directory)
    clip = build_tiny_clip(directory, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    path = directory / AESTHETIC_FILE
    torch.save(_mlp_state(CLIP_PROJECTION_DIM, generator), path)
    return {"clip": str(clip), "predictor": str(path)}


def build_bert_tokenizer(directory: str | Path) -> Path:
    """A lower-casing BERT WordPiece tokenizer folder (vocab.txt, tokenizer_config.json):
    [PAD] = 0, [UNK], [CLS], [SEP], [MASK], then a-z, ##a-##z, digits, punctuation."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    letters = list(string.ascii_lowercase)
    vocab = BERT_SPECIALS + letters + ["##" + c for c in letters]
    vocab += list(string.digits) + list(string.punctuation)
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True}
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    return directory


def _layer_norm(width: int, generator: torch.Generator) -> dict:
    return {
        "weight": 1 + 0.1 * torch.randn(width, generator=generator),
        "bias": 0.1 * torch.randn(width, generator=generator),
    }


def _put(state: dict, prefix: str, parts: dict) -> None:
    for name, value in parts.items():
        state[f"{prefix}.{name}"] = value


def image_reward_state(vocab_size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A seeded random ImageReward state dict in BLIP's original names and shapes."""
    g = torch.Generator().manual_seed(seed)
    d, p, n = IR_VISION["width"], IR_VISION["patch"], (IR_VISION["image"] // IR_VISION["patch"])
    h, inter = IR_TEXT["width"], IR_TEXT["intermediate"]
    state: dict[str, torch.Tensor] = {}
    vis = "blip.visual_encoder"
    state[f"{vis}.cls_token"] = torch.randn(1, 1, d, generator=g)
    state[f"{vis}.pos_embed"] = 0.5 * torch.randn(1, 1 + n * n, d, generator=g)
    state[f"{vis}.patch_embed.proj.weight"] = torch.randn(d, 3, p, p, generator=g) / (p * 3**0.5)
    state[f"{vis}.patch_embed.proj.bias"] = 0.1 * torch.randn(d, generator=g)
    for i in range(IR_VISION["layers"]):
        block = f"{vis}.blocks.{i}"
        _put(state, f"{block}.norm1", _layer_norm(d, g))
        _put(state, f"{block}.attn.qkv", _linear(3 * d, d, g))
        _put(state, f"{block}.attn.proj", _linear(d, d, g))
        _put(state, f"{block}.norm2", _layer_norm(d, g))
        _put(state, f"{block}.mlp.fc1", _linear(4 * d, d, g))
        _put(state, f"{block}.mlp.fc2", _linear(d, 4 * d, g))
    _put(state, f"{vis}.norm", _layer_norm(d, g))
    txt = "blip.text_encoder"
    state[f"{txt}.embeddings.position_ids"] = torch.arange(IR_TEXT["positions"])[None]
    state[f"{txt}.embeddings.word_embeddings.weight"] = torch.randn(vocab_size, h, generator=g)
    state[f"{txt}.embeddings.position_embeddings.weight"] = 0.5 * torch.randn(
        IR_TEXT["positions"], h, generator=g
    )
    _put(state, f"{txt}.embeddings.LayerNorm", _layer_norm(h, g))
    for i in range(IR_TEXT["layers"]):
        layer = f"{txt}.encoder.layer.{i}"
        for block, source in (("attention", h), ("crossattention", d)):
            _put(state, f"{layer}.{block}.self.query", _linear(h, h, g))
            _put(state, f"{layer}.{block}.self.key", _linear(h, source, g))
            _put(state, f"{layer}.{block}.self.value", _linear(h, source, g))
            _put(state, f"{layer}.{block}.output.dense", _linear(h, h, g))
            _put(state, f"{layer}.{block}.output.LayerNorm", _layer_norm(h, g))
        _put(state, f"{layer}.intermediate.dense", _linear(inter, h, g))
        _put(state, f"{layer}.output.dense", _linear(h, inter, g))
        _put(state, f"{layer}.output.LayerNorm", _layer_norm(h, g))
    _put(state, "blip.vision_proj", _linear(256, d, g))  # BLIP_Pretrain's, unused
    _put(state, "blip.text_proj", _linear(256, h, g))
    state.update(_mlp_state(h, g, prefix="mlp."))
    return state


def build_tiny_image_reward(directory: str | Path, seed: int = 0) -> dict[str, str]:
    """A tiny ImageReward in the release's layout; returns ``{"model": folder with
    ImageReward.pt and med_config.json, "tokenizer": tokenizer folder}``."""
    from transformers import AutoTokenizer

    directory = Path(directory)
    tokenizer_dir = build_bert_tokenizer(directory / "bert")
    base_vocab = len(AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True))
    vocab_size = base_vocab + 2  # BLIP adds [DEC] and [ENC], as 30522 + 2 = 30524
    model = directory / "ImageReward"
    model.mkdir(parents=True, exist_ok=True)
    torch.save(image_reward_state(vocab_size, seed), model / "ImageReward.pt")
    med_config = {  # the layout of BLIP's med_config.json
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": IR_TEXT["width"],
        "initializer_range": 0.02,
        "intermediate_size": IR_TEXT["intermediate"],
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": IR_TEXT["positions"],
        "model_type": "bert",
        "num_attention_heads": IR_TEXT["heads"],
        "num_hidden_layers": IR_TEXT["layers"],
        "pad_token_id": 0,
        "type_vocab_size": 2,
        "vocab_size": vocab_size,
        "encoder_width": 768,  # overridden by the ViT's width, as the reference does
        "add_cross_attention": True,
    }
    (model / "med_config.json").write_text(json.dumps(med_config, indent=2))
    return {"model": str(model), "tokenizer": str(tokenizer_dir)}
