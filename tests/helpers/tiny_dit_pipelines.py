"""Tiny random-weight Hunyuan-DiT and PixArt-Sigma diffusers pipelines for tests (no download).

The real classes at a tiny size: ``HunyuanDiTPipeline`` (BertModel + BertTokenizer, mT5-style
T5EncoderModel + T5Tokenizer, ``HunyuanDiT2DModel`` with learned sigma, v1.2's
``use_style_cond_and_image_meta_size=False``, DDPM v-prediction scheduler) and
``PixArtSigmaPipeline`` (T5EncoderModel + T5Tokenizer, ``PixArtTransformer2DModel`` with
learned sigma and no additional conditions, DPMSolver++ scheduler). The scheduler configs are
the released models' own (``HUNYUAN_DIT_V1_2_SCHEDULER``, ``PIXART_SIGMA_SCHEDULER``); both VAEs
use the SDXL VAE's scaling factor 0.13025. Tokenizers are built offline: a WordPiece BERT
tokenizer from a small vocabulary and a Unigram T5 tokenizer from (piece, score) pairs (the
``tokenizers``-backed ``T5Tokenizer`` of transformers 5, no sentencepiece file). Modelled on
``get_dummy_components`` in diffusers' tests/pipelines/hunyuandit/test_hunyuan_dit.py and
tests/pipelines/pixart_sigma/test_pixart.py, and on ``helpers.tiny_pipelines``.

Sizes (``DIT_SIZES``): images 64x64, latents (4, 8, 8), patch 2 (a 4x4 token grid); Hunyuan
prompt_embeds (B, 77, 32) from BERT and the T5 states (B, 256, 32); PixArt prompt_embeds
(B, 300, 32). The sequence lengths are the real pipelines' (77, 256, 300), so ``pipe(prompt=...)``
runs too.
"""

from __future__ import annotations

import string
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    HunyuanDiT2DModel,
    HunyuanDiTPipeline,
    PixArtSigmaPipeline,
    PixArtTransformer2DModel,
)
from transformers import BertConfig, BertModel, BertTokenizer, T5Config, T5EncoderModel, T5Tokenizer

from helpers.tiny_pipelines import _vae

DIT_SIZES = {
    "image": 64,  # pixels per side (transformer sample_size 8 x vae_scale_factor 8)
    "latent": (4, 8, 8),
    "bert_hidden": 32,  # Hunyuan text_encoder (real: 1024)
    "t5_hidden": 32,  # text_encoder_2 of Hunyuan (real: 2048), text_encoder of PixArt (4096)
    "bert_length": 77,  # Hunyuan's BERT context (transformer text_len)
    "t5_length_hunyuan": 256,  # Hunyuan's mT5 context (transformer text_len_t5)
    "t5_length_pixart": 300,  # PixArt-Sigma's max_sequence_length
}
VAE_SCALING_FACTOR = 0.13025  # sdxl-vae(-fp16-fix), the VAE of both released models

# Tencent-Hunyuan/HunyuanDiT-v1.2-Diffusers scheduler/scheduler_config.json (v1.1: beta_end 0.03).
HUNYUAN_DIT_V1_2_SCHEDULER = {
    "_class_name": "DDPMScheduler",
    "beta_end": 0.018,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "clip_sample_range": 1.0,
    "dynamic_thresholding_ratio": 0.995,
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "sample_max_value": 1.0,
    "steps_offset": 1,
    "thresholding": False,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "variance_type": "fixed_small",
}
# PixArt-alpha/PixArt-Sigma-XL-2-1024-MS scheduler/scheduler_config.json.
PIXART_SIGMA_SCHEDULER = {
    "_class_name": "DPMSolverMultistepScheduler",
    "algorithm_type": "dpmsolver++",
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "dynamic_thresholding_ratio": 0.995,
    "euler_at_final": False,
    "lambda_min_clipped": float("-inf"),
    "lower_order_final": True,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "solver_order": 2,
    "solver_type": "midpoint",
    "steps_offset": 0,
    "thresholding": False,
    "timestep_spacing": "linspace",
    "trained_betas": None,
    "use_karras_sigmas": False,
    "use_lu_lambdas": False,
    "variance_type": None,
}
WORDS = ("a", "cat", "dog", "red", "blue", "on", "mat", "photo", "of")


def build_bert_tokenizer() -> BertTokenizer:
    """WordPiece over the special tokens, a few words, and every lowercase letter and digit
    with and without the "##" continuation prefix (any ASCII word tokenizes). 89 tokens."""
    chars = string.ascii_lowercase + string.digits
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    tokens += [c for c in chars if c not in WORDS] + [f"##{c}" for c in chars]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(tokens))}
    return BertTokenizer(vocab=vocab, model_max_length=DIT_SIZES["bert_length"])


def build_t5_tokenizer(max_length: int) -> T5Tokenizer:
    """A Unigram T5 tokenizer (pad 0, eos 1, unk 2 as in T5): the word-start marker, a few
    words, and every lowercase letter and digit with and without it; no sentinel tokens."""
    chars = string.ascii_lowercase + string.digits
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(f"▁{w}", -1.0) for w in WORDS]
    vocab += [(f"▁{c}", -3.0) for c in chars if c not in WORDS] + [(c, -4.0) for c in chars]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=max_length)


def _t5(tokenizer: T5Tokenizer) -> T5EncoderModel:
    hidden = DIT_SIZES["t5_hidden"]
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=hidden,
        d_kv=8,
        d_ff=2 * hidden,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        feed_forward_proj="gated-gelu",  # T5 v1.1 / mT5
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    return T5EncoderModel(config)


def _dit_vae() -> AutoencoderKL:
    """``helpers.tiny_pipelines``' VAE with the SDXL VAE's scaling factor."""
    return _vae(sample_size=DIT_SIZES["image"], scaling_factor=VAE_SCALING_FACTOR)


def build_tiny_hunyuan_dit(
    directory: str | Path, seed: int = 0, style_and_size: bool = False
) -> Path:
    """Save a random-weight HunyuanDiTPipeline (v1.2 layout, no safety checker) to ``directory``
    and return it.

    Transformer: 2 layers, 2 heads x 16 (hidden 32), patch 2, in 4 / out 8 channels (learned
    sigma), cross_attention_dim 32 (BERT) and cross_attention_dim_t5 32 (T5, pooled by 8
    heads to pooled_projection_dim 16), text_len 77, text_len_t5 256; no style/size inputs
    unless ``style_and_size`` (the v1.1 layout, which reads image_meta_size and style).
    """
    directory = Path(directory)
    torch.manual_seed(seed)
    bert_tokenizer = build_bert_tokenizer()
    bert = BertModel(
        BertConfig(
            vocab_size=len(bert_tokenizer),
            hidden_size=DIT_SIZES["bert_hidden"],
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=2 * DIT_SIZES["bert_hidden"],
            max_position_embeddings=128,
            pad_token_id=bert_tokenizer.pad_token_id,
        )
    )
    t5_tokenizer = build_t5_tokenizer(DIT_SIZES["t5_length_hunyuan"])
    transformer = HunyuanDiT2DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=DIT_SIZES["latent"][0],
        patch_size=2,
        activation_fn="gelu-approximate",
        sample_size=DIT_SIZES["latent"][1],
        hidden_size=32,
        num_layers=2,
        mlp_ratio=2.0,
        learn_sigma=True,
        cross_attention_dim=DIT_SIZES["bert_hidden"],
        cross_attention_dim_t5=DIT_SIZES["t5_hidden"],
        pooled_projection_dim=16,
        text_len=DIT_SIZES["bert_length"],
        text_len_t5=DIT_SIZES["t5_length_hunyuan"],
        use_style_cond_and_image_meta_size=style_and_size,
    )
    pipe = HunyuanDiTPipeline(
        vae=_dit_vae(),
        text_encoder=bert,
        tokenizer=bert_tokenizer,
        transformer=transformer,
        scheduler=DDPMScheduler.from_config(HUNYUAN_DIT_V1_2_SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
        text_encoder_2=_t5(t5_tokenizer),
        tokenizer_2=t5_tokenizer,
    )
    pipe.save_pretrained(directory)
    return directory


def build_tiny_pixart_sigma(directory: str | Path, seed: int = 0) -> Path:
    """Save a random-weight PixArtSigmaPipeline to ``directory`` and return it.

    Transformer: 2 layers, 2 heads x 16 (inner 32), patch 2, in 4 / out 8 channels (learned
    sigma), caption_channels 32 (the T5 width), ada_norm_single, use_additional_conditions
    False (as PixArt-Sigma's config).
    """
    directory = Path(directory)
    torch.manual_seed(seed)
    tokenizer = build_t5_tokenizer(DIT_SIZES["t5_length_pixart"])
    transformer = PixArtTransformer2DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=DIT_SIZES["latent"][0],
        out_channels=2 * DIT_SIZES["latent"][0],
        num_layers=2,
        cross_attention_dim=32,
        sample_size=DIT_SIZES["latent"][1],
        patch_size=2,
        caption_channels=DIT_SIZES["t5_hidden"],
        norm_type="ada_norm_single",
        num_embeds_ada_norm=1000,
        use_additional_conditions=False,
    )
    pipe = PixArtSigmaPipeline(
        tokenizer=tokenizer,
        text_encoder=_t5(tokenizer),
        vae=_dit_vae(),
        transformer=transformer,
        scheduler=DPMSolverMultistepScheduler.from_config(PIXART_SIGMA_SCHEDULER),
    )
    pipe.save_pretrained(directory)
    return directory
