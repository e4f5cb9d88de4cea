"""Inference overhead of each golden-noise model relative to one sampling run.

For each model: the time to turn x_T into golden noise, per image, divided by the time of one
full sampling run (DDIM, 10 steps) per image, measured side by side in one run on the digits
profile, at each CFG scale (CFG 1.0 samples one UNet row per step instead of two, so the
relative overhead is twice CFG 5.5's; each model rolls out the length it chose for that scale),
at batch 1 (one user, one image) and at a large batch (throughput). The re-denoise oracle (two
extra UNet calls) is measured the same way.
Target: NPNet <= 3% (the paper's figure), goal <= 1% (issue 13: the best one-step model at
CFG 1.0 and 2.0).

Usage: python benchmarks/model_overhead.py [--artifacts artifacts] [--repeats 5]
       python benchmarks/model_overhead.py --model sdxl-random --device cuda [--dtype float16]
Missing checkpoints fall back to randomly initialised models of the demo's configs (same cost).
--model sdxl-random measures on SDXL base's architecture with random weights (benchmarks/
full_size.py: latents 4x128x128, prompt_embeds 77x2048, fp16 on CUDA) through our
DiffusersBackend, with every golden-noise model built for those shapes with random weights:
NPNet as published for SDXL (SVD width 256, Swin-T residual, ``NPNetConfig.published()``), the
others at their graph defaults; sampling time is DDIM's UNet loop (the VAE decode, the same for
both, is left out of the denominator, so the ratios are upper bounds).
"""

import argparse
import functools
import statistics
import time
from dataclasses import replace
from pathlib import Path

import full_size
import torch

from gn_models.backends.digits_backend import DigitsBackend
from gn_models.backends.digits_training import build_digits_unet
from gn_models.backends.minilm_text_encoder import MiniLMTextEncoder
from gn_models.golden_noise.npnet import NPNet, NPNetConfig
from gn_models.golden_noise.registry import MODEL_CLASSES, load_golden_model
from gn_models.sampling.ddim import ddim_sample
from gn_models.sampling.re_denoise import re_denoise

# --batch-sizes and --repeats when not given, per --model
DEFAULTS = {
    "digits": {"batch_sizes": [1, 256], "repeats": 5},
    "sdxl-random": {"batch_sizes": [1, 8], "repeats": 3},  # batch 8: the sdxl profile's
}


def load_backend(artifacts: Path, device: str) -> DigitsBackend:
    """The digits base model under ``artifacts``, else a random-init UNet of its architecture."""
    if (artifacts / "base_model" / "unet" / "config.json").is_file():
        return DigitsBackend.from_directory(artifacts / "base_model", device)
    torch.manual_seed(0)
    return DigitsBackend(build_digits_unet(), MiniLMTextEncoder(device=device), device)


def load_models(artifacts: Path, backend: DigitsBackend, embeds) -> dict:
    """Every registered golden-noise model: its checkpoint under ``artifacts`` when present,
    else a random init of the demo config."""
    models = {}
    for name, cls in MODEL_CLASSES.items():
        directory = artifacts / "checkpoints" / name
        if (directory / "config.json").is_file():
            models[name] = load_golden_model(directory, backend.device)
        else:
            model = cls.from_data(
                cls.config_class(residual="conv") if name == "npnet" else cls.config_class(),
                backend.latent_shape,
                embeds,
                10,
            )
            models[name] = model.to(backend.device).eval()
            print(f"{name}: no checkpoint in {directory}, random init of the demo config")
    return models


def random_models(backend, embeds, num_redenoise: int = 10) -> dict:
    """Every registered golden-noise model with random weights, built for ``backend``'s latent
    shape and ``embeds``' widths: NPNet as published for SDXL (``NPNetConfig.published()``:
    SVD width min(aH, bW), Swin-T residual, without its ImageNet weights: nothing is
    downloaded), the others at their config defaults; sequence models roll out
    ``num_redenoise`` steps."""
    torch.manual_seed(0)
    c, h, w = backend.latent_shape
    _, tokens, dim = embeds.prompt_embeds.shape
    models = {}
    for name, cls in MODEL_CLASSES.items():
        if cls is NPNet:
            shapes = {"channels": c, "height": h, "width": w, "prompt_tokens": tokens}
            config = replace(NPNetConfig.published(), **shapes, embed_dim=dim)
            model = NPNet(config, pretrained_residual=False)
        else:
            model = cls.from_data(cls.config_class(), backend.latent_shape, embeds, num_redenoise)
        models[name] = model.to(backend.device).eval()
    print(f"golden-noise models: random init for latents {c}x{h}x{w}, prompt_embeds {tokens}x{dim}")
    return models


def seconds(fn, inputs: tuple, repeats: int, device: torch.device) -> float:
    """Median wall seconds of ``fn(*inputs)`` over ``repeats`` runs after one warm-up."""
    fn(*inputs)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn(*inputs)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    parser.add_argument("--repeats", type=int, help="digits: 5, sdxl-random: 3")
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", help="digits: 1 256, sdxl-random: 1 8"
    )
    parser.add_argument("--cfg-scales", type=float, nargs="+", default=[5.5, 1.0])
    parser.add_argument("--num-steps", type=int, default=10, help="DDIM steps of sampling")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    full_size.add_model_arguments(parser)
    return parser


@torch.no_grad()
def main(argv: list[str] | None = None) -> None:
    """Run the benchmark with command-line arguments ``argv`` (None: sys.argv)."""
    args = full_size.parse_arguments(build_parser(), argv, DEFAULTS)
    steps = args.num_steps
    if args.model == "sdxl-random":
        dtype = full_size.resolve_dtype(args.dtype, args.device)
        print(full_size.describe(args, dtype))
        backend = full_size.build_sdxl_backend(args.scale, args.image_size, args.device, dtype)
        cond_all = backend.encode_prompts([full_size.sdxl_prompts(1)[0]])
        models = random_models(backend, cond_all)
    else:
        backend = load_backend(args.artifacts, args.device)
        cond_all = backend.encode_prompts(["the digit seven written by hand"])
        models = load_models(args.artifacts, backend, cond_all)
    print(f"device: {args.device}, torch threads: {torch.get_num_threads()}")
    columns = [(cfg, b) for cfg in args.cfg_scales for b in args.batch_sizes]
    print(f"{'method':<20}" + "".join(f"{f'CFG {c:g} batch {b}':>20}" for c, b in columns))
    rows = {name: [] for name in ["re_denoise (oracle)", *models]}
    for cfg, batch in columns:
        noise_fns = {"re_denoise (oracle)": lambda x, c: re_denoise(backend, x, c, 5.5, 1.0, steps)}
        noise_fns |= {
            n: functools.partial(m.golden_noise, cfg_scale=cfg) for n, m in models.items()
        }
        cond = cond_all.index([0] * batch)
        x_T = backend.initial_noise(list(range(batch)))
        sampling = seconds(
            ddim_sample, (backend, x_T, cond, cfg, steps), args.repeats, backend.device
        )
        for name, fn in noise_fns.items():
            rows[name].append(seconds(fn, (x_T, cond), args.repeats, backend.device) / sampling)
    for name, ratios in rows.items():
        print(f"{name:<20}" + "".join(f"{r:>20.2%}" for r in ratios))
    print(
        f"ratios: golden-noise time per image / sampling time per image ({steps} DDIM steps, at "
        "that CFG scale). Target: NPNet <= 3%, goal <= 1%."
    )


if __name__ == "__main__":
    main()
