"""Collect the noise-sequence dataset by re-denoise sampling (NPNet, arXiv:2411.09502,
Sec. 3.2-3.3): for each prompt and seed, the chain x_T -> x'_1 -> ... -> x'_n, images sampled
from the rewarded states, their filter rewards and the keep flag."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from gn_models.backends.base import DiffusionBackend
from gn_models.data.noise_sequences import NoiseSequences, kept_at
from gn_models.data.prompt_rows import normalise_prompt
from gn_models.rewards.base import RewardModel
from gn_models.sampling.re_denoise import re_denoise_chain
from gn_models.types import Prompt, PromptEmbeds
from gn_models.utils.images import to_uint8
from gn_models.utils.validation import AT_LEAST_1, FINITE, GUIDANCE, require


@dataclass
class CollectionConfig:
    """Settings of a collection: seeds, re-denoise, and the sampling whose images the filter
    reward scores."""

    seeds_per_prompt: int = 3  # K noise samples per prompt
    cfg_denoise: float = 5.5  # w_l, the strong guidance of the denoise step
    cfg_inversion: float = 1.0  # w_w, the weak guidance of the inversion step
    cfg_sample: float = 5.5  # CFG scale of the sampling run that makes the judged images
    num_steps: int = 10  # DDIM steps, for re-denoise's t and for sampling
    margin: float = 0.0  # m: keep when reward(x'_n) > reward(x_T) + m
    num_redenoise: int = 5  # n: re-denoise steps per sequence (1: plain pairs)
    renormalize: bool = True  # rescale every chain state to ||x_T|| (False: the paper's chain)
    reward_states: list[int] = field(default_factory=lambda: [1])  # besides x_T and x'_n
    reward_every_step: bool = False  # reward every state (overrides reward_states)
    batch_size: int = 256  # sequences per batch (sampling batches: that x rewarded states)

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a count below 1, a guidance scale that is
        negative, NaN or Inf, a NaN margin, or a reward state below 1."""
        require(self, AT_LEAST_1, "seeds_per_prompt", "num_steps", "num_redenoise", "batch_size")
        require(self, GUIDANCE, "cfg_denoise", "cfg_inversion", "cfg_sample")
        require(self, FINITE, "margin")
        self.reward_steps()

    def reward_steps(self) -> list[int]:
        """Indices of the states whose images are sampled and rewarded: x_T, x'_n and the
        ``reward_states`` up to n (every state with ``reward_every_step``).

        Raises:
            ValueError: a reward state below 1.
        """
        n = self.num_redenoise
        if self.reward_every_step:
            return list(range(n + 1))
        if any(k < 1 for k in self.reward_states):
            raise ValueError(
                f"reward_states={self.reward_states}: chain states are numbered 1..n "
                "(x_T, state 0, is always rewarded)."
            )
        return sorted({0, n} | {k for k in self.reward_states if k <= n})


def prompt_seed(text: str, index: int) -> int:
    """Stable 63-bit seed for the ``index``-th noise sample of a prompt (deterministic x_T)."""
    digest = hashlib.sha1(f"{normalise_prompt(text)}\x00{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@torch.no_grad()
def collect_noise_sequences(
    backend: DiffusionBackend,
    reward: RewardModel,
    prompts: list[Prompt],
    config: CollectionConfig | None = None,
) -> NoiseSequences:
    """Re-denoise sequences for every prompt and K seeds, batched over prompts and seeds.

    For each sample: x_T from a stable per-(prompt, k) seed; the chain x'_1..x'_n; images by
    DDIM sampling from the rewarded states (one batch); their rewards; the keep flag.

    Args:
        prompts: the prompts (texts and optional labels).
        reward: the filter reward.
        config: seeds, re-denoise and sampling settings (None: the defaults, K = 3, n = 5,
            renormalized).

    Raises:
        ValueError: empty prompt list, K < 1 or n < 1.
    """
    config = config or CollectionConfig()
    seeds_per_prompt, batch_size = config.seeds_per_prompt, config.batch_size
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
    noise = re_denoise_chain(
        backend,
        backend.initial_noise(seeds),
        cond,
        config.num_redenoise,
        config.cfg_denoise,
        config.cfg_inversion,
        config.num_steps,
        config.renormalize,
    )
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
