"""Noise prompt dataset (NPD) collection by re-denoise sampling (NPNet, Sec. 3.2-3.3)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from tqdm.auto import tqdm

from gn_models.backend import DiffusionBackend
from gn_models.ddim import ddim_sample, re_denoise
from gn_models.prompts import Prompt, prompt_seed
from gn_models.reward import RewardModel


@dataclass
class SamplingConfig:
    """Settings of re-denoise and of the sampling that judges it."""

    cfg_denoise: float = 5.5  # w_l, the strong guidance of the denoise step
    cfg_inversion: float = 1.0  # w_w, the weak guidance of the inversion step
    cfg_sample: float = 5.5  # CFG scale of the sampling run that makes the judged images
    num_steps: int = 10  # DDIM steps, for re-denoise's t and for sampling
    margin: float = 0.0  # m: keep a pair when reward(x'_T) > reward(x_T) + m


@dataclass
class NoisePairs:
    """N samples of the NPD. Arrays are numpy; N = prompts x seeds.

    Attributes:
        prompt: (N,) str. label: (N,) int64, -1 where the prompt has none. seed: (N,) int64.
        x_T: (N, C, H, W) float32, the standard noise. x_golden: (N, C, H, W) float32, x'_T.
        image_standard, image_golden: (N, c, h, w) uint8 images sampled from x_T and x'_T.
        reward_standard, reward_golden: (N,) float32. kept: (N,) bool, the NPD filter.
    """

    prompt: np.ndarray
    label: np.ndarray
    seed: np.ndarray
    x_T: np.ndarray
    x_golden: np.ndarray
    image_standard: np.ndarray
    image_golden: np.ndarray
    reward_standard: np.ndarray
    reward_golden: np.ndarray
    kept: np.ndarray

    def __len__(self) -> int:
        return len(self.seed)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def concat(cls, parts: list[NoisePairs]) -> NoisePairs:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                      for f in fields(cls)})


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images (B, C, H, W) float in [0, 1] -> uint8 numpy, same layout."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


@torch.no_grad()
def sample_and_score(backend: DiffusionBackend, reward: RewardModel, x_T: torch.Tensor,
                     cond, prompts: list[str], labels: list[int | None],
                     cfg_scale: float, num_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """DDIM-sample images from x_T (B, C, H, W) and score them.

    Returns: images (B, c, h, w) float32 in [0, 1] and rewards (B,) float32.
    """
    images = backend.decode(ddim_sample(backend, x_T, cond, cfg_scale, num_steps))
    return images, reward.score(images, prompts, labels)


@torch.no_grad()
def collect_noise_pairs(
    backend: DiffusionBackend,
    reward: RewardModel,
    prompts: list[Prompt],
    seeds_per_prompt: int,
    config: SamplingConfig | None = None,
    batch_size: int = 256,
) -> NoisePairs:
    """Make (x_T, x'_T) pairs for every prompt and K seeds, batched over prompts and seeds.

    For each sample: x_T from a stable per-(prompt, k) seed; x'_T = re_denoise(x_T); images
    from both by DDIM sampling (one batch of 2B); rewards of both; kept = reward(x'_T) >
    reward(x_T) + m.

    Args:
        prompts: the prompts (texts and optional labels).
        seeds_per_prompt: K noise samples per prompt.
        config: re-denoise and sampling settings (None: the paper's defaults).
        batch_size: samples per re-denoise batch (the sampling batch is twice that).

    Raises:
        ValueError: empty prompt list or K < 1.
    """
    if not prompts or seeds_per_prompt < 1:
        raise ValueError(
            f"collect_noise_pairs needs prompts and seeds_per_prompt >= 1, got "
            f"{len(prompts)} prompts and seeds_per_prompt={seeds_per_prompt}."
        )
    config = config or SamplingConfig()
    embeds = backend.encode_prompts([p.text for p in prompts])
    jobs = [(i, prompt_seed(p.text, k)) for i, p in enumerate(prompts)
            for k in range(seeds_per_prompt)]
    parts = []
    for start in tqdm(range(0, len(jobs), batch_size), desc="re-denoise", mininterval=5):
        batch = jobs[start: start + batch_size]
        index = [i for i, _ in batch]
        parts.append(_collect_batch(backend, reward, [prompts[i] for i in index],
                                    embeds.index(index), [s for _, s in batch], config))
    return NoisePairs.concat(parts)


def _collect_batch(backend, reward, prompts, cond, seeds, config) -> NoisePairs:
    x_T = backend.initial_noise(seeds)
    x_golden = re_denoise(backend, x_T, cond, config.cfg_denoise, config.cfg_inversion,
                          config.num_steps)
    texts, labels = [p.text for p in prompts], [p.label for p in prompts]
    both = type(cond).cat([cond, cond])
    images, rewards = sample_and_score(backend, reward, torch.cat([x_T, x_golden]), both,
                                       texts * 2, labels * 2, config.cfg_sample,
                                       config.num_steps)
    n = len(seeds)
    r_std, r_gold = rewards[:n].float().numpy(), rewards[n:].float().numpy()
    return NoisePairs(
        prompt=np.array(texts, dtype=object),
        label=np.array([-1 if lab is None else lab for lab in labels], dtype=np.int64),
        seed=np.array(seeds, dtype=np.int64),
        x_T=x_T.float().cpu().numpy(),
        x_golden=x_golden.float().cpu().numpy(),
        image_standard=to_uint8(images[:n]),
        image_golden=to_uint8(images[n:]),
        reward_standard=r_std,
        reward_golden=r_gold,
        kept=r_gold > r_std + config.margin,
    )
