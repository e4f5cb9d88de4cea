"""Tiny random-weight SDXL and SD 1.5-style diffusers pipelines for tests (no download).

The architecture follows the real models (two CLIP text encoders and "text_time" added
conditioning for SDXL, one encoder for SD; a 4-block VAE so latents are H/8 x W/8; SDXL's
Euler scheduler config) at a size that builds and samples in well under a second. Modelled on
``get_dummy_components`` in diffusers' tests/pipelines/stable_diffusion_xl/
test_stable_diffusion_xl.py, with a CLIP tokenizer built from a local byte-level vocabulary.

Sizes (``SIZES``): images 64x64, latents (4, 8, 8); SDXL prompt_embeds (B, 77, 32 + 64 = 96),
pooled (B, 16); SD prompt_embeds (B, 77, 32).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)

MAX_LENGTH = 77  # tokens per prompt, as in the real CLIP tokenizers
SIZES = {
    "image": 64,  # pixels per side (unet sample_size 8 x vae_scale_factor 8)
    "latent": (4, 8, 8),
    "sdxl_hidden": (32, 64),  # text_encoder, text_encoder_2 hidden sizes -> 96 wide embeddings
    "sdxl_pooled": 16,  # text_encoder_2 projection_dim
    "sd_hidden": 32,
}
# SDXL base's widths and latent size (build_tiny_sdxl(real_widths=True))
REAL_SDXL = {"latent": (4, 128, 128), "sdxl_hidden": (768, 1280), "sdxl_pooled": 1280}
ADDITION_TIME_EMBED_DIM = 8
# SDXL base's scheduler/scheduler_config.json (stabilityai/stable-diffusion-xl-base-1.0). The
# DDIM keys Euler does not take (clip_sample, set_alpha_to_one) are kept in the config, as
# from_pretrained keeps them; DDIMScheduler.from_config reads them.
SDXL_SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "use_karras_sigmas": False,
}
SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")
MERGES = ("c a", "ca t</w>", "d o", "do g</w>", "r e", "re d</w>")


def _bytes_to_unicode() -> list[str]:
    """The 256 printable characters GPT-2/CLIP byte-level BPE uses for the bytes 0..255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def build_tokenizer(directory: str | Path) -> CLIPTokenizer:
    """A CLIP byte-level BPE tokenizer from a vocab.json + merges.txt written to ``directory``:
    the 256 byte symbols with and without the end-of-word "</w>", a few merges, then the
    start/end tokens (pad = end, as in SD's tokenizer). 520 tokens."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    base = _bytes_to_unicode()
    tokens = base + [c + "</w>" for c in base] + ["".join(m.split()) for m in MERGES]
    tokens += SPECIAL_TOKENS
    (directory / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(tokens)}))
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n")
    return CLIPTokenizer(
        vocab=str(directory / "vocab.json"),
        merges=str(directory / "merges.txt"),
        model_max_length=MAX_LENGTH,
    )


def _text_config(tokenizer: CLIPTokenizer, hidden: int, projection_dim: int) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=MAX_LENGTH,
        projection_dim=projection_dim,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        hidden_act="gelu",
    )


def _vae(**overrides) -> AutoencoderKL:
    """4 blocks -> vae_scale_factor 2**3 = 8, 4 latent channels, like SD/SDXL's VAE;
    ``overrides`` replace AutoencoderKL arguments (``mid_block_add_attention=False`` drops
    the mid-block attention, at 1024 px 16384 tokens)."""
    arguments = {
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "block_out_channels": (8, 8, 16, 16),
        "layers_per_block": 1,
        "latent_channels": 4,
        "norm_num_groups": 4,
        "sample_size": SIZES["image"],
    }
    return AutoencoderKL(**arguments | overrides)


def _unet(cross_attention_dim: int, **overrides) -> UNet2DConditionModel:
    """The tiny UNet; ``overrides`` replace or add UNet2DConditionModel arguments."""
    arguments = {
        "sample_size": SIZES["latent"][1],
        "in_channels": 4,
        "out_channels": 4,
        "block_out_channels": (32, 64),
        "layers_per_block": 1,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
        "attention_head_dim": (2, 4),
        "use_linear_projection": True,
        "norm_num_groups": 8,
    }
    return UNet2DConditionModel(cross_attention_dim=cross_attention_dim, **arguments | overrides)


# At 128x128 latents, two more downsamplings keep attention at 32x32 tokens (cheap on a CPU).
REAL_SIZE_UNET = {
    "sample_size": 128,
    "block_out_channels": (8, 16, 32),
    "down_block_types": ("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
    "attention_head_dim": (2, 2, 4),
}


def build_tiny_sdxl(
    directory: str | Path,
    seed: int = 0,
    time_cond_proj_dim: int | None = None,
    real_widths: bool = False,
) -> Path:
    """Save a random-weight StableDiffusionXLPipeline to ``directory`` and return it.

    UNet cross_attention_dim 96 (= 32 + 64, the two encoders' hidden sizes concatenated),
    addition_embed_type "text_time" with projection_class_embeddings_input_dim
    6 * 8 + 16 (six time ids of 8 dims each, plus the pooled text_encoder_2 projection).
    ``time_cond_proj_dim`` makes an LCM-style guidance-embedded UNet. ``real_widths``: SDXL
    base's shapes where a golden-noise model sees them (``REAL_SDXL``: encoders 768 + 1280
    wide, pooled 1280, latents 4x128x128 = 1024 px), still with tiny layers, so a released
    SDXL NPNet fits it (a few seconds per image on a CPU).
    """
    directory = Path(directory)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(directory / "_vocab")
    sizes = REAL_SDXL if real_widths else SIZES
    hidden_1, hidden_2 = sizes["sdxl_hidden"]
    pooled = sizes["sdxl_pooled"]
    unet = _unet(
        hidden_1 + hidden_2,
        **(REAL_SIZE_UNET if real_widths else {}),
        addition_embed_type="text_time",
        addition_time_embed_dim=ADDITION_TIME_EMBED_DIM,
        projection_class_embeddings_input_dim=6 * ADDITION_TIME_EMBED_DIM + pooled,
        transformer_layers_per_block=1,
        time_cond_proj_dim=time_cond_proj_dim,
    )
    pipe = StableDiffusionXLPipeline(
        vae=_vae(mid_block_add_attention=not real_widths),
        text_encoder=CLIPTextModel(_text_config(tokenizer, hidden_1, hidden_1)),
        text_encoder_2=CLIPTextModelWithProjection(_text_config(tokenizer, hidden_2, pooled)),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler.from_config(SDXL_SCHEDULER),
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(directory)
    return directory


def build_tiny_sd(directory: str | Path, seed: int = 0) -> Path:
    """Save a random-weight SD 1.5-style StableDiffusionPipeline (one CLIP encoder, hidden 32,
    no added conditioning, no safety checker) to ``directory`` and return it."""
    directory = Path(directory)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(directory / "_vocab")
    hidden = SIZES["sd_hidden"]
    pipe = StableDiffusionPipeline(
        vae=_vae(),
        text_encoder=CLIPTextModel(_text_config(tokenizer, hidden, hidden)),
        tokenizer=tokenizer,
        unet=_unet(hidden),
        scheduler=EulerDiscreteScheduler.from_config(SDXL_SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(directory)
    return directory


# A tiny ViT of HPSv2's open_clip family: same tokenizer, context length, vocabulary and
# 224-pixel input as ViT-H-14, random weights.
TINY_HPSV2_ARCH = "hpsv2-test-tiny-vit"
TINY_HPSV2_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 224, "patch_size": 32, "width": 32, "head_width": 16, "layers": 1},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def build_tiny_hpsv2(directory: str | Path, seed: int = 0) -> Path:
    """Register the tiny open_clip config (as ``TINY_HPSV2_ARCH``) and save seeded random
    weights in HPS's layout, ``torch.save({'state_dict': ...})``, as HPS_v2.1_compressed.pt."""
    import open_clip

    directory = Path(directory)
    config = directory / f"{TINY_HPSV2_ARCH}.json"  # open_clip names the arch by file stem
    config.write_text(json.dumps(TINY_HPSV2_CONFIG))
    open_clip.add_model_config(config)
    torch.manual_seed(seed)
    model = open_clip.create_model(TINY_HPSV2_ARCH)
    path = directory / "HPS_v2.1_compressed.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    return path
