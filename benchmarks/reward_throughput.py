"""HPSv2 reward throughput: our scorer vs the `hpsv2` package's pattern, side by side.

Both score the same N images (each against its own prompt) with the same open_clip model
size and the same checkpoint file (seeded random weights saved in HPS's layout,
{'state_dict': fp16 tensors}, like HPS_v2.1_compressed.pt):
  - ours: HPSv2Reward, loaded once (load time printed apart), batches of --batch-size;
  - hpsv2 package pattern (hpsv2/img_score.py, re-implemented with open_clip; the package is
    never imported): one score() call per (image, prompt) pair, each call doing
    torch.load(checkpoint) + load_state_dict, then tensor -> PIL -> preprocess_val for one
    image, and one forward pass under autocast ('amp' on CUDA, fp32 weights). The package
    keeps the model object between calls; --recreate-model also re-creates it on every call.
Prints images/s for both and the ratio (target >= 10x at ViT-H-14 on a GPU).

Usage: python benchmarks/reward_throughput.py [--arch ViT-B-32] [--images 32] [--device cuda]
       [--batch-size 16] [--image-size 1024] [--repeats 2] [--recreate-model]
       python benchmarks/reward_throughput.py --model sdxl-random --device cuda [--dtype float16]
HPSv2 itself is ViT-H-14 (about 2 GB of fp16 weights): use --arch ViT-H-14 (or --model
sdxl-random: ViT-H-14 on SDXL's 1024 px images; --scale shrinks it, benchmarks/full_size.py) on a
GPU; the default ViT-B-32 is affordable on a 2-core CPU. --dtype sets our scorer's weights
(auto: fp16 on CUDA, fp32 elsewhere, as HPSv2Reward.from_checkpoint); the package pattern
always runs fp32 weights under autocast, as the package does.
"""

import argparse
import logging
import tempfile
import time
from pathlib import Path

import full_size
import open_clip
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import to_pil_image

from gn_models.rewards.hpsv2 import HPSv2Reward

PHRASES = ["a red fox in the snow", "an astronaut riding a horse", "a bowl of ramen", "a cat"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device) -> tuple[torch.Tensor, float]:
    """fn()'s result and wall seconds."""
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - start


def save_random_checkpoint(arch: str, path: Path, device: str | torch.device = "cpu") -> None:
    """Seeded random weights of `arch` (created on `device`: ViT-H-14 initialises in seconds on
    a GPU), saved in fp16 as HPS does: {'state_dict': ...}."""
    model = full_size.create_open_clip(arch, device, seed=0)
    state = {k: v.half().cpu() for k, v in model.state_dict().items()}
    del model
    torch.save({"state_dict": state}, path)


class PackagePattern:
    """What `hpsv2.score(image, prompt)` does per call (hpsv2/img_score.py), with open_clip."""

    def __init__(self, arch: str, checkpoint: Path, device: torch.device, recreate: bool):
        self.arch, self.checkpoint, self.device, self.recreate = arch, checkpoint, device, recreate
        self.model = self.create()  # the package caches the model object in `model_dict`
        self.preprocess_val = open_clip.image_transform(224, is_train=False, resize_mode="longest")
        self.tokenizer = open_clip.get_tokenizer(arch)

    def create(self) -> torch.nn.Module:
        # precision='amp' in the package: fp32 weights, autocast at run time.
        return open_clip.create_model(self.arch, precision="fp32", device=self.device)

    @torch.no_grad()
    def score(self, image: torch.Tensor, prompt: str) -> float:
        """One image (C, H, W) in [0, 1], one prompt."""
        if self.recreate:
            self.model = self.create()
        state = torch.load(self.checkpoint, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["state_dict"])
        self.model.eval()
        pixels = self.preprocess_val(to_pil_image(image)).unsqueeze(0).to(self.device)
        text = self.tokenizer([prompt]).to(self.device)
        with torch.autocast(self.device.type, enabled=self.device.type == "cuda"):
            image_features = F.normalize(self.model.encode_image(pixels), dim=-1)
            text_features = F.normalize(self.model.encode_text(text), dim=-1)
        return (image_features @ text_features.T).diagonal().float().item()


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        choices=("default", "sdxl-random"),
        default="default",
        help="default: --arch; sdxl-random: HPSv2's ViT-H-14 (x --scale), random weights",
    )
    parser.add_argument("--arch", help="open_clip architecture (default ViT-B-32; HPSv2: ViT-H-14)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="sdxl-random: ViT-H-14's widths and depths x this"
    )
    parser.add_argument(
        "--dtype", default="auto", help="our scorer's weights: auto, float16, bfloat16, float32"
    )
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=1024, help="SDXL images are 1024x1024")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs each; best is kept")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--recreate-model", action="store_true", help="baseline re-creates the model every call"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark with command-line arguments ``argv`` (None: sys.argv)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.model == "sdxl-random":
        if args.arch is not None:
            parser.error("--model sdxl-random sets the architecture; leave out --arch")
        if not 0 < args.scale <= 1:
            parser.error(f"--scale must be in (0, 1]; got {args.scale}")
        args.arch = full_size.hpsv2_arch(args.scale)
    elif args.scale != 1.0:
        parser.error("--scale applies to --model sdxl-random only")
    else:
        args.arch = args.arch or "ViT-B-32"
    device = torch.device(args.device)
    try:
        dtype = full_size.resolve_dtype(args.dtype, device)
    except ValueError as err:
        parser.error(str(err))
    logging.getLogger().setLevel(logging.ERROR)  # open_clip warns on each random-init model

    generator = torch.Generator().manual_seed(0)
    images = torch.rand(args.images, 3, args.image_size, args.image_size, generator=generator)
    prompts = [f"{PHRASES[i % len(PHRASES)]}, variation {i}" for i in range(args.images)]
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "HPS_random_compressed.pt"
        save_random_checkpoint(args.arch, checkpoint, device)
        size_mb = checkpoint.stat().st_size / 2**20

        # Ours: load once, then score in batches.
        sync(device)
        start = time.perf_counter()
        reward = HPSv2Reward.from_checkpoint(
            checkpoint, arch=args.arch, device=device, batch_size=args.batch_size
        )
        if reward.dtype != dtype:  # --dtype other than from_checkpoint's choice
            reward.model.to(dtype)
            reward.dtype = dtype
        sync(device)
        load_s = time.perf_counter() - start
        # The package's pattern: one call per image, checkpoint re-read every call.
        baseline = PackagePattern(args.arch, checkpoint, device, args.recreate_model)
        reward.score(images[:2], prompts[:2], [None, None])  # warm-up
        baseline.score(images[0], prompts[0])  # warm-up (page cache, kernels)

        def ours() -> torch.Tensor:
            return reward.score(images, prompts, [None] * len(images))

        def theirs() -> torch.Tensor:
            return torch.tensor(
                [baseline.score(x, p) for x, p in zip(images, prompts, strict=True)]
            )

        ours_s, theirs_s = [], []
        for _ in range(args.repeats):  # alternate so background load hits both alike
            ours_scores, seconds = timed(ours, device)
            ours_s.append(seconds)
            theirs_scores, seconds = timed(theirs, device)
            theirs_s.append(seconds)

    ours_rate, theirs_rate = len(images) / min(ours_s), len(images) / min(theirs_s)
    per_call = "re-create model + reload" if args.recreate_model else "reload"
    print(f"device: {device}, torch threads: {torch.get_num_threads()}, arch: {args.arch}")
    if args.model == "sdxl-random":
        size = "full size" if args.scale == 1 else f"scale {args.scale:g}"
        print(f"model: sdxl-random (HPSv2's ViT-H-14 architecture, random weights, {size})")
    print(
        f"{args.images} images {args.image_size}x{args.image_size}, "
        f"checkpoint {size_mb:.0f} MB (fp16)"
    )
    print(
        f"ours ({str(reward.dtype).removeprefix('torch.')}, loaded once in {load_s:.1f} s, "
        f"batch {args.batch_size}): {ours_rate:8.2f} images/s "
        f"(best of {args.repeats})"
    )
    print(
        f"hpsv2 pattern ({per_call} checkpoint per call, batch 1): {theirs_rate:8.2f} images/s "
        f"(best of {args.repeats})"
    )
    print(f"ratio ours / hpsv2 pattern: {ours_rate / theirs_rate:.1f}x (target >= 10x)")
    # The package resamples 8-bit PIL images, ours float tensors (and on CUDA: fp16 vs amp).
    difference = (ours_scores - theirs_scores).abs().max()
    print(f"max |score difference| ours vs hpsv2 pattern: {difference:.1e}")


if __name__ == "__main__":
    main()
