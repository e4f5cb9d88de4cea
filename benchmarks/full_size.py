"""Full-size models with random weights, built from configs kept in the repo (no download).

Compute does not need trained weights: a randomly initialised SDXL costs what SDXL costs. This
module builds, from ``benchmarks/configs/``:
  - SDXL base 1.0 (stabilityai/stable-diffusion-xl-base-1.0): ``sdxl_unet.json`` (2.567e9
    parameters), ``sdxl_vae.json`` (83.65e6; latents 4x128x128 decode to 1024x1024),
    ``sdxl_text_encoder.json`` (CLIP ViT-L/14 text, hidden 768) and ``sdxl_text_encoder_2.json``
    (OpenCLIP ViT-bigG/14 text, hidden 1280, projection 1280), ``sdxl_scheduler.json``; the
    tokenizer is CLIP's real BPE (49408 tokens), read from the vocabulary file that
    open_clip ships;
  - HPSv2's open_clip ViT-H-14, from open_clip's built-in config.

``scale`` < 1 shrinks every width (channels, hidden sizes, heads) and depth (transformer
layers, text and vision layers) by that factor, rounded to valid sizes, for tests on a CPU;
``scale`` = 1 is the configs exactly. The image size is a separate knob (``image_size``,
pixels; latents are image_size / 8 per side). Models are created directly on ``device``
(``torch.device`` as a context, so SDXL's 2.6e9 UNet parameters are initialised by the GPU,
not the CPU) and then cast to ``dtype``; ``device="meta"`` allocates nothing (shapes and
parameter counts only).

The pipeline goes into our ``DiffusersBackend`` (``build_sdxl_backend``), so the benchmarks run
our real code paths (prompt encoding, CFG, re-denoise, DDIM, the pipeline's sampling and
decode); only ``load_pipeline`` (reading weights) is bypassed.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
SDXL_IMAGE_SIZE = 1024  # SDXL base's native resolution; latents 4 x 128 x 128
HPSV2_ARCH = "ViT-H-14"  # HPSv2's open_clip architecture
MODELS = ("digits", "sdxl-random")  # the benchmarks' --model choices
SDXL_PROMPTS = (
    "a red fox in the snow",
    "an astronaut riding a horse on the moon",
    "a bowl of ramen on a wooden table, studio lighting",
    "a watercolor painting of a lighthouse at dawn",
)
_NORM_GROUPS = 32  # GroupNorm groups of SDXL's UNet and VAE: channels stay multiples of it
_HEAD_WIDTH = 64  # attention head width of SDXL's UNet and of the CLIP text encoders


def load_config(name: str) -> dict[str, Any]:
    """The JSON config ``benchmarks/configs/<name>.json`` (e.g. "sdxl_unet") as a dict."""
    return json.loads((CONFIG_DIR / f"{name}.json").read_text())


def scaled(value: int, scale: float, multiple: int) -> int:
    """``value * scale`` rounded to a multiple of ``multiple`` (at least ``multiple``);
    ``value`` itself when ``scale`` is 1."""
    if scale == 1:
        return value
    return max(multiple, multiple * round(value * scale / multiple))


def scaled_depth(layers: int, scale: float) -> int:
    """A layer count times ``scale``, rounded, at least 1."""
    return layers if scale == 1 else max(1, round(layers * scale))


def _divisor_at_most(n: int, k: int) -> int:
    """The largest divisor of ``n`` not above ``max(k, 1)``."""
    return max(d for d in range(1, max(k, 1) + 1) if n % d == 0)


def _check_scale(scale: float) -> None:
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1]; got {scale}.")


def text_encoder_configs(scale: float = 1.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """SDXL's two CLIP text encoder configs (ViT-L/14 text, OpenCLIP bigG/14 text), scaled:
    hidden sizes in multiples of 64 (one head per 64), MLP 4x hidden, layers x ``scale``."""
    _check_scale(scale)
    configs = []
    for name in ("sdxl_text_encoder", "sdxl_text_encoder_2"):
        config = load_config(name)
        if scale != 1:
            hidden = scaled(config["hidden_size"], scale, _HEAD_WIDTH)
            config |= {
                "hidden_size": hidden,
                "intermediate_size": 4 * hidden,
                "num_attention_heads": hidden // _HEAD_WIDTH,
                "num_hidden_layers": scaled_depth(config["num_hidden_layers"], scale),
                "projection_dim": hidden,
            }
        configs.append(config)
    return configs[0], configs[1]


def unet_config(scale: float = 1.0, image_size: int = SDXL_IMAGE_SIZE) -> dict[str, Any]:
    """SDXL's UNet config (``sdxl_unet.json``) for ``image_size`` pixels (sample_size =
    image_size / 8), scaled: block channels (multiples of 32), heads (dividing the channels),
    transformer layers [1, 2, 10], and the added "text_time" conditioning, whose width
    (projection_class_embeddings_input_dim = 6 x addition_time_embed_dim + pooled width,
    2816 = 6 x 256 + 1280 at full size) and cross_attention_dim (768 + 1280 = 2048) follow
    the scaled text encoders."""
    _check_scale(scale)
    config = load_config("sdxl_unet")
    config["sample_size"] = image_size // 8
    if scale == 1:
        return config
    text_1, text_2 = text_encoder_configs(scale)
    channels = [scaled(c, scale, _NORM_GROUPS) for c in config["block_out_channels"]]
    heads = [
        _divisor_at_most(c, round(h * scale))
        for c, h in zip(channels, config["attention_head_dim"], strict=True)
    ]
    time_dim = scaled(config["addition_time_embed_dim"], scale, 8)
    return config | {
        "block_out_channels": channels,
        "attention_head_dim": heads,
        "transformer_layers_per_block": [
            scaled_depth(n, scale) for n in config["transformer_layers_per_block"]
        ],
        "cross_attention_dim": text_1["hidden_size"] + text_2["hidden_size"],
        "addition_time_embed_dim": time_dim,
        "projection_class_embeddings_input_dim": 6 * time_dim + text_2["projection_dim"],
    }


def vae_config(scale: float = 1.0, image_size: int = SDXL_IMAGE_SIZE) -> dict[str, Any]:
    """SDXL's VAE config (``sdxl_vae.json``, 4 blocks: 8x downsampling, 4 latent channels,
    scaling_factor 0.13025) with sample_size ``image_size`` and block channels x ``scale``."""
    _check_scale(scale)
    config = load_config("sdxl_vae") | {"sample_size": image_size}
    if scale != 1:
        channels = [scaled(c, scale, _NORM_GROUPS) for c in config["block_out_channels"]]
        config["block_out_channels"] = channels
    return config


@contextlib.contextmanager
def _creating_on(device: str | torch.device, seed: int) -> Iterator[None]:
    """Seeded parameter creation directly on ``device`` (no CPU initialisation)."""
    torch.manual_seed(seed)  # seeds the CPU and every CUDA device
    with torch.device(device):
        yield


def _ready(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """``module`` in ``dtype``, eval mode, no gradients. (diffusers warns on every dtype cast
    of a model that lists no fp32 modules; these list none, so the warning is silenced.)"""
    if next(module.parameters()).dtype != dtype:
        from diffusers.utils import logging as diffusers_logging

        level = diffusers_logging.get_verbosity()
        diffusers_logging.set_verbosity_error()
        try:
            module = module.to(dtype=dtype)
        finally:
            diffusers_logging.set_verbosity(level)
    return module.eval().requires_grad_(False)


def build_unet(
    scale: float = 1.0,
    image_size: int = SDXL_IMAGE_SIZE,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
):
    """A random-weight SDXL ``UNet2DConditionModel`` (``unet_config``) on ``device`` in
    ``dtype``, in eval mode. ``device="meta"``: shapes only, nothing allocated."""
    from diffusers import UNet2DConditionModel

    with _creating_on(device, seed):
        unet = UNet2DConditionModel.from_config(unet_config(scale, image_size))
    return _ready(unet, dtype)


def build_vae(
    scale: float = 1.0,
    image_size: int = SDXL_IMAGE_SIZE,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
):
    """A random-weight SDXL ``AutoencoderKL`` (``vae_config``) on ``device`` in ``dtype``,
    in eval mode. ``device="meta"``: shapes only."""
    from diffusers import AutoencoderKL

    with _creating_on(device, seed):
        vae = AutoencoderKL.from_config(vae_config(scale, image_size))
    return _ready(vae, dtype)


def clip_tokenizer():
    """CLIP's BPE tokenizer (49408 tokens, 77-token context) as a transformers
    ``CLIPTokenizer``, built offline from the ``bpe_simple_vocab_16e6.txt.gz`` that open_clip
    ships (the vocabulary of openai/clip-vit-large-patch14 and of SDXL's two tokenizers; both
    here pad with the end token)."""
    from open_clip.tokenizer import bytes_to_unicode, default_bpe
    from transformers import CLIPTokenizer

    lines = gzip.open(default_bpe()).read().decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]  # as open_clip's SimpleTokenizer reads them
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file, merges_file = Path(tmp) / "vocab.json", Path(tmp) / "merges.txt"
        vocab_file.write_text(json.dumps({token: i for i, token in enumerate(vocab)}))
        merges_file.write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
        return CLIPTokenizer(
            vocab=str(vocab_file),
            merges=str(merges_file),
            model_max_length=77,
            pad_token="<|endoftext|>",
        )


def build_sdxl_pipeline(
    scale: float = 1.0,
    image_size: int = SDXL_IMAGE_SIZE,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
):
    """A random-weight ``StableDiffusionXLPipeline`` of SDXL base 1.0's architecture
    (``scale`` 1: UNet, VAE, both text encoders and the scheduler exactly as configured),
    on ``device`` in ``dtype``, progress bar off, no watermarker."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    text_1, text_2 = text_encoder_configs(scale)
    unet = build_unet(scale, image_size, device, dtype, seed)
    vae = build_vae(scale, image_size, device, dtype, seed + 1)
    with _creating_on(device, seed + 2):
        text_encoder = CLIPTextModel(CLIPTextConfig.from_dict(text_1))
        text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig.from_dict(text_2))
    tokenizer = clip_tokenizer()
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=_ready(text_encoder, dtype),
        text_encoder_2=_ready(text_encoder_2, dtype),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler.from_config(load_config("sdxl_scheduler")),
        force_zeros_for_empty_prompt=True,
        add_watermarker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_sdxl_backend(
    scale: float = 1.0,
    image_size: int = SDXL_IMAGE_SIZE,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
):
    """Our ``DiffusersBackend`` (DDIM sampler, as the sdxl profile) around
    ``build_sdxl_pipeline``: latents (4, image_size / 8, image_size / 8), prompt_embeds
    (B, 77, 2048) and pooled (B, 1280) at full scale."""
    from gn_models.backends.diffusers_backend import DiffusersBackend

    return DiffusersBackend(build_sdxl_pipeline(scale, image_size, device, dtype, seed))


def hpsv2_arch(scale: float = 1.0) -> str:
    """The open_clip architecture name of HPSv2's ViT-H-14 at ``scale``: "ViT-H-14" itself at
    1, else a registered copy of its config with widths and depths x ``scale`` (same 224-px
    input, 14-px patches, 77-token context and vocabulary)."""
    _check_scale(scale)
    if scale == 1:
        return HPSV2_ARCH
    import open_clip

    name = f"{HPSV2_ARCH}-scale{scale:g}"
    if name in open_clip.list_models():
        return name
    config = open_clip.get_model_config(HPSV2_ARCH)
    vision, text = dict(config["vision_cfg"]), dict(config["text_cfg"])
    vision["width"] = scaled(vision["width"], scale, vision["head_width"])
    vision["layers"] = scaled_depth(vision["layers"], scale)
    text["width"] = scaled(text["width"], scale, _HEAD_WIDTH)
    text["heads"] = text["width"] // _HEAD_WIDTH
    text["layers"] = scaled_depth(text["layers"], scale)
    config = {
        "embed_dim": scaled(config["embed_dim"], scale, _HEAD_WIDTH),
        "vision_cfg": vision,
        "text_cfg": text,
    }
    with tempfile.TemporaryDirectory() as tmp:  # open_clip keeps configs once read
        path = Path(tmp) / f"{name}.json"  # open_clip names the architecture by file stem
        path.write_text(json.dumps(config))
        open_clip.add_model_config(path)
    return name


def create_open_clip(arch: str, device: str | torch.device = "cpu", seed: int = 0):
    """A random-weight open_clip model ``arch``, created directly on ``device`` (fp32)."""
    import open_clip

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # open_clip warns that the weights are random
    try:
        with _creating_on(device, seed):
            return open_clip.create_model(arch, device=device)
    finally:
        root.setLevel(level)


def build_hpsv2_reward(
    scale: float = 1.0, device: str | torch.device = "cpu", batch_size: int = 16, seed: int = 0
):
    """Our ``HPSv2Reward`` around a random-weight ViT-H-14 (``hpsv2_arch(scale)``), in the
    precision ``HPSv2Reward.from_checkpoint`` picks: fp16 on CUDA, fp32 elsewhere."""
    import open_clip

    from gn_models.rewards.hpsv2 import HPSv2Reward

    arch = hpsv2_arch(scale)
    device = torch.device(device)
    model = create_open_clip(arch, device, seed)
    if device.type == "cuda":
        model = model.half()
    return HPSv2Reward(model, open_clip.get_tokenizer(arch), "v2.1", batch_size)


def parameter_count(module: torch.nn.Module) -> int:
    """Number of parameters of ``module`` (meta tensors included)."""
    return sum(p.numel() for p in module.parameters())


def resolve_dtype(name: str, device: str | torch.device) -> torch.dtype:
    """``--dtype`` as a torch dtype: "auto" is float16 on CUDA and float32 elsewhere (as
    ``DiffusersBackendConfig``); else "float16", "bfloat16", "float32" (or their short
    names)."""
    from gn_models.backends.diffusers_backend import resolve_dtype as backend_dtype

    return backend_dtype(name, torch.device(device))


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by the diffusion benchmarks: --model, --scale, --image-size,
    --dtype."""
    parser.add_argument(
        "--model",
        choices=MODELS,
        default="digits",
        help="digits: the digits profile (default); sdxl-random: SDXL base's architecture "
        "with random weights, from benchmarks/configs (no download)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="sdxl-random: widths and depths x this factor (1 = full size; tests use 0.1)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=SDXL_IMAGE_SIZE,
        help="sdxl-random: image side in pixels (latents are 1/8 of it per side)",
    )
    parser.add_argument(
        "--dtype",
        default="auto",
        help="sdxl-random: float16, bfloat16, float32 or auto (float16 on CUDA, else float32)",
    )


def parse_arguments(
    parser: argparse.ArgumentParser, argv: list[str] | None, defaults: dict[str, dict]
) -> argparse.Namespace:
    """``parser.parse_args(argv)``, checked (``check_model_arguments``), with the options left
    unset (None) taken from ``defaults[args.model]``."""
    args = parser.parse_args(argv)
    check_model_arguments(parser, args)
    for name, value in defaults[args.model].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def check_model_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject full-size options given with --model digits, and bad sizes or dtypes."""
    if args.model == "digits":
        given = [
            flag
            for flag, value, default in (
                ("--scale", args.scale, 1.0),
                ("--image-size", args.image_size, SDXL_IMAGE_SIZE),
                ("--dtype", args.dtype, "auto"),
            )
            if value != default
        ]
        if given:
            parser.error(f"{', '.join(given)} apply to --model sdxl-random only")
        return
    if not 0 < args.scale <= 1:
        parser.error(f"--scale must be in (0, 1]; got {args.scale}")
    if args.image_size < 8 or args.image_size % 8:
        parser.error(f"--image-size must be a positive multiple of 8; got {args.image_size}")
    try:
        resolve_dtype(args.dtype, args.device)
    except ValueError as err:
        parser.error(str(err))


def describe(args: argparse.Namespace, dtype: torch.dtype) -> str:
    """One line naming the model the benchmark built (printed before its figures)."""
    latent = args.image_size // 8
    size = "full size" if args.scale == 1 else f"scale {args.scale:g}"
    return (
        f"model: sdxl-random (SDXL base architecture, random weights, {size}), "
        f"{args.image_size} px images, latents 4x{latent}x{latent}, "
        f"{str(dtype).removeprefix('torch.')}"
    )


def sdxl_prompts(count: int) -> list[str]:
    """``count`` distinct prompts (the phrases above with a variation number)."""
    return [f"{SDXL_PROMPTS[i % len(SDXL_PROMPTS)]}, variation {i}" for i in range(count)]
