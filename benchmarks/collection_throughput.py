"""Re-denoise (noise-sequence collection) throughput: batched vs a batch-1 loop, and the UNet share.

Prints two ratios measured side by side in one run on the same base model:
  - batched samples/s over batch-1 samples/s (target >= 4x);
  - share of the collection stage's wall time (collection + Zarr write) spent inside UNet forward
    passes (target >= 90%).

Usage: python benchmarks/collection_throughput.py [--base-model artifacts/base_model] [--prompts 32]
A missing base model falls back to a randomly initialised UNet of the same architecture
(same cost per forward pass).
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch

from gn_models.backends.digits_backend import DigitsBackend
from gn_models.backends.digits_training import build_digits_unet
from gn_models.backends.minilm_text_encoder import MiniLMTextEncoder
from gn_models.data.collect import CollectionConfig, collect_noise_sequences
from gn_models.data.digits import TRAIN_PHRASINGS, captions
from gn_models.data.noise_sequence_store import write_shard
from gn_models.rewards.digit_classifier import DigitClassifierReward
from gn_models.types import Prompt


def load_backend(path: Path, device: str) -> DigitsBackend:
    if (path / "unet" / "config.json").is_file():
        print(f"base model: {path}")
        return DigitsBackend.from_directory(path, device)
    print(f"base model: random init ({path} not found; same architecture and cost)")
    torch.manual_seed(0)
    return DigitsBackend(build_digits_unet(), MiniLMTextEncoder(device=device), device)


class UNetTimer:
    """Wraps backend.denoiser and accumulates the wall time spent inside it."""

    def __init__(self, backend: DigitsBackend):
        self.seconds, self.inner, self.device = 0.0, backend.denoiser, backend.device
        backend.denoiser = self

    def __call__(self, *args, **kwargs):
        self._sync()
        start = time.perf_counter()
        out = self.inner(*args, **kwargs)
        self._sync()
        self.seconds += time.perf_counter() - start
        return out

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def collection_stage(backend, reward, prompts, seeds, batch_size, store) -> float:
    """Wall seconds of one collection stage: collection plus the Zarr write."""
    start = time.perf_counter()
    # one-step pairs: the unit of collection work
    config = CollectionConfig(seeds_per_prompt=seeds, num_redenoise=1, batch_size=batch_size)
    data = collect_noise_sequences(backend, reward, prompts, config)
    write_shard(store, "bench", data)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", type=Path, default=Path("artifacts/base_model"))
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batch1-samples", type=int, default=24)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    backend = load_backend(args.base_model, args.device)
    reward = DigitClassifierReward(torch.randn(10, 64) * 0.1, torch.zeros(10))
    table = captions(TRAIN_PHRASINGS)
    prompts = [Prompt(text, digit) for text, digit in table[: args.prompts]]
    small = prompts[: args.batch1_samples]
    timer = UNetTimer(backend)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.zarr"
        collection_stage(backend, reward, prompts[:2], 1, 2, store)  # warm-up
        batched_n, single_n = len(prompts) * args.seeds, len(small)
        batched_s, single_s, share = [], [], []
        for _ in range(2):  # alternate so background load hits both alike
            timer.seconds = 0.0
            batched_s.append(
                collection_stage(backend, reward, prompts, args.seeds, args.batch_size, store)
            )
            share.append(timer.seconds / batched_s[-1])
            single_s.append(collection_stage(backend, reward, small, 1, 1, store))
    batched_rate = batched_n / min(batched_s)
    single_rate = single_n / min(single_s)
    print(f"device: {args.device}, torch threads: {torch.get_num_threads()}")
    print(
        f"batched (batch {args.batch_size}): {batched_rate:8.2f} samples/s "
        f"({batched_n} samples, best of {len(batched_s)})"
    )
    print(f"batch-1 loop:        {single_rate:8.2f} samples/s ({single_n} samples)")
    print(f"ratio batched / batch-1: {batched_rate / single_rate:.1f}x (target >= 4x)")
    print(f"UNet share of collection-stage wall time (batched): {max(share):.1%} (target >= 90%)")


if __name__ == "__main__":
    main()
