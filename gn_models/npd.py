"""Noise prompt dataset (NPD) collection by re-denoise sampling (NPNet, Sec. 3.2-3.3).

Re-denoise is applied n times, x_T -> x'_1 -> ... -> x'_n; one-step pairs are n = 1.
"""

from dataclasses import dataclass, fields

import numpy as np
import torch
from tqdm.auto import tqdm

from gn_models.backend import DiffusionBackend
from gn_models.ddim import re_denoise
from gn_models.prompts import Prompt, prompt_seed
from gn_models.reward import RewardModel
from gn_models.text_encoder import PromptEmbeds


@dataclass
class SamplingConfig:
    """Settings of re-denoise and of the sampling that judges it."""

    cfg_denoise: float = 5.5  # w_l, the strong guidance of the denoise step
    cfg_inversion: float = 1.0  # w_w, the weak guidance of the inversion step
    cfg_sample: float = 5.5  # CFG scale of the sampling run that makes the judged images
    num_steps: int = 10  # DDIM steps, for re-denoise's t and for sampling
    margin: float = 0.0  # m: keep when reward(x'_n) > reward(x_T) + m
    num_redenoise: int = 10  # n: re-denoise steps per sequence (1: plain pairs)
    reward_every_step: bool = False  # reward every state, not only x_T, x'_1 and x'_n

    def reward_steps(self) -> list[int]:
        """Indices of the states whose images are sampled and rewarded."""
        n = self.num_redenoise
        return list(range(n + 1)) if self.reward_every_step else sorted({0, 1, n})


@dataclass
class NoiseSequences:
    """N re-denoise sequences of the NPD; numpy arrays, N = prompts x seeds.

    Attributes:
        prompt: (N,) str. label: (N,) int64, -1 where the prompt has none. seed: (N,) int64.
        noise: (N, n+1, C, H, W) float32, [x_T, x'_1, ..., x'_n].
        reward: (N, n+1) float32 reward of the image sampled from each state; NaN for states
            not rewarded (see SamplingConfig.reward_steps).
        image_standard, image_golden: (N, c, h, w) uint8 images sampled from x_T and x'_n.
        kept: (N,) bool, reward(x'_n) > reward(x_T) + m (NPD filter of the whole sequence).
    """

    prompt: np.ndarray
    label: np.ndarray
    seed: np.ndarray
    noise: np.ndarray
    reward: np.ndarray
    image_standard: np.ndarray
    image_golden: np.ndarray
    kept: np.ndarray

    def __len__(self) -> int:
        return len(self.seed)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def concat(cls, parts: list["NoiseSequences"]) -> "NoiseSequences":
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )


def kept_at(reward: np.ndarray, step: int, margin: float) -> np.ndarray:
    """The NPD filter for state ``step``: reward(x'_step) > reward(x_T) + m, (N,) bool
    from rewards (N, n+1)."""
    return reward[:, step] > reward[:, 0] + margin


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images (B, C, H, W) float in [0, 1] -> uint8 numpy, same layout."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


@torch.no_grad()
def redenoise_chain(
    backend: DiffusionBackend, x_T: torch.Tensor, cond: PromptEmbeds, config: SamplingConfig
) -> torch.Tensor:
    """Apply re-denoise ``config.num_redenoise`` times: returns (B, n+1, C, H, W)."""
    states = [x_T]
    for _ in range(config.num_redenoise):
        states.append(
            re_denoise(
                backend,
                states[-1],
                cond,
                config.cfg_denoise,
                config.cfg_inversion,
                config.num_steps,
            )
        )
    return torch.stack(states, dim=1)


@torch.no_grad()
def collect_noise_sequences(
    backend: DiffusionBackend,
    reward: RewardModel,
    prompts: list[Prompt],
    seeds_per_prompt: int,
    config: SamplingConfig | None = None,
    batch_size: int = 256,
) -> NoiseSequences:
    """Re-denoise sequences for every prompt and K seeds, batched over prompts and seeds.

    For each sample: x_T from a stable per-(prompt, k) seed; the chain x'_1..x'_n; images by
    DDIM sampling from the rewarded states (one batch); their rewards; the keep flag.

    Args:
        prompts: the prompts (texts and optional labels).
        seeds_per_prompt: K noise samples per prompt.
        config: re-denoise and sampling settings (None: the paper's defaults, n = 10).
        batch_size: sequences per batch (sampling batches are that x rewarded states).

    Raises:
        ValueError: empty prompt list, K < 1 or n < 1.
    """
    config = config or SamplingConfig()
    if not prompts or seeds_per_prompt < 1 or config.num_redenoise < 1:
        raise ValueError(
            f"collect_noise_sequences needs prompts, seeds_per_prompt >= 1 and num_redenoise "
            f">= 1, got {len(prompts)} prompts, seeds_per_prompt={seeds_per_prompt}, "
            f"num_redenoise={config.num_redenoise}."
        )
    embeds = backend.encode_prompts([p.text for p in prompts])
    jobs = [
        (i, prompt_seed(p.text, k)) for i, p in enumerate(prompts) for k in range(seeds_per_prompt)
    ]
    parts = []
    for start in tqdm(range(0, len(jobs), batch_size), desc="re-denoise", mininterval=5):
        batch = jobs[start : start + batch_size]
        index = [i for i, _ in batch]
        parts.append(
            _collect_batch(
                backend,
                reward,
                [prompts[i] for i in index],
                embeds.index(index),
                [s for _, s in batch],
                config,
            )
        )
    return NoiseSequences.concat(parts)


def _collect_batch(backend, reward, prompts, cond, seeds, config) -> NoiseSequences:
    noise = redenoise_chain(backend, backend.initial_noise(seeds), cond, config)
    steps = config.reward_steps()
    texts, labels = [p.text for p in prompts], [p.label for p in prompts]
    images = backend.generate(
        torch.cat([noise[:, k] for k in steps]),
        PromptEmbeds.cat([cond] * len(steps)),
        config.cfg_sample,
        config.num_steps,
    )
    scores = reward.score(images, texts * len(steps), labels * len(steps)).float().numpy()
    n, b = config.num_redenoise, len(seeds)
    rewards = np.full((b, n + 1), np.nan, dtype=np.float32)
    rewards[:, steps] = scores.reshape(len(steps), b).T
    return NoiseSequences(
        prompt=np.array(texts, dtype=object),
        label=np.array([-1 if lab is None else lab for lab in labels], dtype=np.int64),
        seed=np.array(seeds, dtype=np.int64),
        noise=noise.float().cpu().numpy(),
        reward=rewards,
        image_standard=to_uint8(images[:b]),
        image_golden=to_uint8(images[-b:]),
        kept=kept_at(rewards, n, config.margin),
    )
