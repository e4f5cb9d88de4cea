"""Tiny random-weight CLIP rewards saved to local folders, for tests that must not download.

``build_tiny_pickscore``: a transformers ``CLIPModel`` of PickScore's class from a tiny
``CLIPConfig`` (32-pixel images, 8-pixel patches, width 32) with seeded random weights, and a
``CLIPProcessor`` on a local byte-level vocabulary, both saved with ``save_pretrained``. With
random weights no prompt matches an image better: tests check formulas, plumbing and errors.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

from helpers.tiny_pipelines import MAX_LENGTH, build_tokenizer

PICKSCORE_IMAGE_SIZE = 32
PICKSCORE_LOGIT_SCALE = 4.0  # exp = 54.6, not the init's 14.3: a scale is applied


def build_tiny_pickscore(root: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """Save a tiny seeded random PickScore-like CLIP under ``root``.

    Returns:
        (model folder ``root/model``, processor folder ``root/processor``), as
        ``PickScoreRewardConfig(model=..., processor=...)`` takes them.
    """
    root = Path(root)
    tokenizer = build_tokenizer(root / "_vocab")
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
            "image_size": PICKSCORE_IMAGE_SIZE,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_attention_heads": 2,
            "num_hidden_layers": 1,
        },
        projection_dim=16,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config)
    with torch.no_grad():
        model.logit_scale.fill_(PICKSCORE_LOGIT_SCALE)
    model.save_pretrained(root / "model")
    size = {"shortest_edge": PICKSCORE_IMAGE_SIZE}
    crop = {"height": PICKSCORE_IMAGE_SIZE, "width": PICKSCORE_IMAGE_SIZE}
    image_processor = CLIPImageProcessor(size=size, crop_size=crop)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(
        root / "processor"
    )
    return root / "model", root / "processor"
