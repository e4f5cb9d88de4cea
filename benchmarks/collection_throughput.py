"""Re-denoise (noise-sequence collection) throughput: batched vs a batch-1 loop, and the UNet share.

Prints two ratios measured side by side in one run on the same base model:
  - batched samples/s over batch-1 samples/s (target >= 4x);
  - share of the collection stage's wall time (collection + Zarr write) spent inside UNet forward
    passes (target >= 90%).
(The issue calls this benchmark npd_throughput: noise-pair data throughput.)

Usage: python benchmarks/collection_throughput.py [--base-model artifacts/base_model] [--prompts 32]
       python benchmarks/collection_throughput.py --model sdxl-random [--dtype float16]
A missing base model falls back to a randomly initialised UNet of the same architecture
(same cost per forward pass). --model sdxl-random collects on SDXL base's architecture with random
weights (benchmarks/full_size.py: 1024 px, latents 4x128x128, fp16 on CUDA) through our
DiffusersBackend, with the sdxl profile's settings (one-step pairs, one seed per prompt, batch 8)
and a random-weight HPSv2 (ViT-H-14) as the filter reward; --scale shrinks it for a CPU.
"""

import argparse
import functools
import tempfile
import time
from pathlib import Path

import full_size
import torch

from gn_models.backends.digits_backend import DigitsBackend
from gn_models.backends.digits_training import build_digits_unet
from gn_models.backends.minilm_text_encoder import MiniLMTextEncoder
from gn_models.data.collect import CollectionConfig, collect_noise_sequences
from gn_models.data.digits import TRAIN_PHRASINGS, captions
from gn_models.data.noise_sequence_store import write_shard
from gn_models.rewards.digit_classifier import DigitClassifierReward
from gn_models.types import Prompt

# --prompts, --seeds, --batch-size, --batch1-samples when not given, per --model
DEFAULTS = {
    "digits": {"prompts": 32, "seeds": 8, "batch_size": 256, "batch1_samples": 24},
    # configs/sdxl/collect_noise_sequences.yaml: one seed per prompt, 8 sequences per batch
    "sdxl-random": {"prompts": 8, "seeds": 1, "batch_size": 8, "batch1_samples": 2},
}


def load_backend(path: Path, device: str) -> DigitsBackend:
    """The digits base model saved at ``path``, else a random-init UNet of its architecture."""
    if (path / "unet" / "config.json").is_file():
        print(f"base model: {path}")
        return DigitsBackend.from_directory(path, device)
    print(f"base model: random init ({path} not found; same architecture and cost)")
    torch.manual_seed(0)
    return DigitsBackend(build_digits_unet(), MiniLMTextEncoder(device=device), device)


class UNetTimer:
    """Accumulates the wall time spent inside ``backend.unet``'s forward passes (forward
    hooks, so UNet calls from our samplers and from a diffusers pipeline both count)."""

    def __init__(self, backend):
        self.seconds, self.device, self._start = 0.0, backend.device, 0.0
        backend.unet.register_forward_pre_hook(self._enter)
        backend.unet.register_forward_hook(self._exit)

    def _enter(self, module, args):
        self._sync()
        self._start = time.perf_counter()

    def _exit(self, module, args, output):
        self._sync()
        self.seconds += time.perf_counter() - self._start

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def collection_stage(backend, reward, prompts, seeds, batch_size, store, num_steps=10) -> float:
    """Wall seconds of one collection stage: collection plus the Zarr write."""
    start = time.perf_counter()
    # one-step pairs: the unit of collection work
    config = CollectionConfig(
        seeds_per_prompt=seeds, num_redenoise=1, batch_size=batch_size, num_steps=num_steps
    )
    data = collect_noise_sequences(backend, reward, prompts, config)
    write_shard(store, "bench", data)
    return time.perf_counter() - start


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", type=Path, default=Path("artifacts/base_model"))
    parser.add_argument("--prompts", type=int, help="digits: 32, sdxl-random: 8")
    parser.add_argument("--seeds", type=int, help="seeds per prompt; digits: 8, sdxl-random: 1")
    parser.add_argument("--batch-size", type=int, help="digits: 256, sdxl-random: 8")
    parser.add_argument("--batch1-samples", type=int, help="digits: 24, sdxl-random: 2")
    parser.add_argument(
        "--num-steps", type=int, default=10, help="DDIM steps (re-denoise's t and sampling)"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    full_size.add_model_arguments(parser)
    return parser


@torch.no_grad()
def main(argv: list[str] | None = None) -> None:
    """Run the benchmark with command-line arguments ``argv`` (None: sys.argv)."""
    args = full_size.parse_arguments(build_parser(), argv, DEFAULTS)

    if args.model == "sdxl-random":
        dtype = full_size.resolve_dtype(args.dtype, args.device)
        print(full_size.describe(args, dtype))
        backend = full_size.build_sdxl_backend(args.scale, args.image_size, args.device, dtype)
        reward = full_size.build_hpsv2_reward(args.scale, backend.device, args.batch_size)
        prompts = [Prompt(text) for text in full_size.sdxl_prompts(args.prompts)]
    else:
        backend = load_backend(args.base_model, args.device)
        reward = DigitClassifierReward(torch.randn(10, 64) * 0.1, torch.zeros(10))
        table = captions(TRAIN_PHRASINGS)
        prompts = [Prompt(text, digit) for text, digit in table[: args.prompts]]
    small = prompts[: args.batch1_samples]
    timer = UNetTimer(backend)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.zarr"
        stage = functools.partial(collection_stage, store=store, num_steps=args.num_steps)
        stage(backend, reward, prompts[:2], 1, 2)  # warm-up
        if backend.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(backend.device)
        batched_n, single_n = len(prompts) * args.seeds, len(small)
        batched_s, single_s, share = [], [], []
        for _ in range(2):  # alternate so background load hits both alike
            timer.seconds = 0.0
            batched_s.append(stage(backend, reward, prompts, args.seeds, args.batch_size))
            share.append(timer.seconds / batched_s[-1])
            single_s.append(stage(backend, reward, small, 1, 1))
    batched_rate = batched_n / min(batched_s)
    single_rate = single_n / min(single_s)
    print(f"device: {args.device}, torch threads: {torch.get_num_threads()}")
    if backend.device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(backend.device) / 2**30
        print(f"peak GPU memory allocated: {peak:.1f} GiB")
    print(
        f"batched (batch {args.batch_size}): {batched_rate:8.2f} samples/s "
        f"({batched_n} samples, best of {len(batched_s)})"
    )
    print(f"batch-1 loop:        {single_rate:8.2f} samples/s ({single_n} samples)")
    print(f"ratio batched / batch-1: {batched_rate / single_rate:.1f}x (target >= 4x)")
    print(f"UNet share of collection-stage wall time (batched): {max(share):.1%} (target >= 90%)")


if __name__ == "__main__":
    main()
