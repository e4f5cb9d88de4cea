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
Missing checkpoints fall back to randomly initialised models of the demo's configs (same cost).
"""

import argparse
import functools
import statistics
import time
from pathlib import Path

import torch

from gn_models.backends.digits_backend import DigitsBackend
from gn_models.backends.digits_training import build_digits_unet
from gn_models.backends.minilm_text_encoder import MiniLMTextEncoder
from gn_models.golden_noise.registry import MODEL_CLASSES, load_golden_model
from gn_models.sampling.ddim import ddim_sample
from gn_models.sampling.re_denoise import re_denoise


def load_backend(artifacts: Path, device: str) -> DigitsBackend:
    if (artifacts / "base_model" / "unet" / "config.json").is_file():
        return DigitsBackend.from_directory(artifacts / "base_model", device)
    torch.manual_seed(0)
    return DigitsBackend(build_digits_unet(), MiniLMTextEncoder(device=device), device)


def load_models(artifacts: Path, backend: DigitsBackend, embeds) -> dict:
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


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--cfg-scales", type=float, nargs="+", default=[5.5, 1.0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    backend = load_backend(args.artifacts, args.device)
    cond_all = backend.encode_prompts(["the digit seven written by hand"])
    models = load_models(args.artifacts, backend, cond_all)
    print(f"device: {args.device}, torch threads: {torch.get_num_threads()}")
    columns = [(cfg, b) for cfg in args.cfg_scales for b in args.batch_sizes]
    print(f"{'method':<20}" + "".join(f"{f'CFG {c:g} batch {b}':>20}" for c, b in columns))
    rows = {name: [] for name in ["re_denoise (oracle)", *models]}
    for cfg, batch in columns:
        noise_fns = {"re_denoise (oracle)": lambda x, c: re_denoise(backend, x, c, 5.5, 1.0, 10)}
        noise_fns |= {
            n: functools.partial(m.golden_noise, cfg_scale=cfg) for n, m in models.items()
        }
        cond = cond_all.index([0] * batch)
        x_T = backend.initial_noise(list(range(batch)))
        sampling = seconds(ddim_sample, (backend, x_T, cond, cfg, 10), args.repeats, backend.device)
        for name, fn in noise_fns.items():
            rows[name].append(seconds(fn, (x_T, cond), args.repeats, backend.device) / sampling)
    for name, ratios in rows.items():
        print(f"{name:<20}" + "".join(f"{r:>20.2%}" for r in ratios))
    print(
        "ratios: golden-noise time per image / sampling time per image (10 DDIM steps, at that "
        "CFG scale). Target: NPNet <= 3%, goal <= 1%."
    )


if __name__ == "__main__":
    main()
