"""Evaluation images: every method's noise for the same x_T, sampled at each setting.

x_T of (prompt, seed index j) comes from ``prompt_seed(prompt, j)``: a different noise for
every prompt (three shared seeds would make the whole evaluation hinge on three noises), and
apart from the training data's indices 0..K-1.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from gn_models.backends.base import DiffusionBackend
from gn_models.data.collect import prompt_seed
from gn_models.sampling.re_denoise import re_denoise_chain
from gn_models.types import Prompt, PromptEmbeds
from gn_models.utils.images import to_uint8
from gn_models.utils.validation import AT_LEAST_1, GUIDANCE, require

NoiseFn = Callable[[torch.Tensor, PromptEmbeds], torch.Tensor]
ORACLE = "re_denoise"  # re-denoise applied once at inference, the paper's (unrenormalized) step


@dataclass(frozen=True)
class EvalSetting:
    """A sampling setting users vary: CFG scale and DDIM step count."""

    cfg_scale: float
    num_steps: int

    @property
    def name(self) -> str:
        return f"cfg{self.cfg_scale:g}_steps{self.num_steps}"


@dataclass
class EvaluationConfig:
    """Which images the evaluation samples: every evaluation prompt x E seeds, for each
    method, at every CFG scale x DDIM step count; and the chain-oracle rows (re-denoise
    applied k times at inference, with and without renormalization)."""

    seeds_per_prompt: int = 3  # E seeds per evaluation prompt (sizing: docs/evaluation.md)
    first_seed: int = 1_000_000  # seed indices first_seed .. + E - 1, apart from training's
    cfg_scales: list[float] = field(default_factory=lambda: [5.5, 2.0, 1.0])
    step_counts: list[int] = field(default_factory=lambda: [10, 4])  # 4: learned at 10, used at 4
    re_denoise_cfg: float = 5.5  # w_l of the re-denoise oracle (w_w = 1.0)
    chain_lengths: list[int] = field(default_factory=lambda: [1, 2, 3, 5, 10])  # k of chain rows
    chain_step_counts: list[int] = field(default_factory=lambda: [10])  # where chain rows run
    chain_cfg_scales: list[float] = field(default_factory=lambda: [1.0])  # and at which CFG
    batch_size: int = 256

    def __post_init__(self):
        """Raises: ConfigValueError (a ValueError): a count or step count below 1, an empty
        list of settings, or a guidance scale that is negative, NaN or Inf."""
        require(self, AT_LEAST_1, "seeds_per_prompt", "step_counts", "batch_size")
        require(self, AT_LEAST_1, "chain_lengths", "chain_step_counts", empty_ok=True)
        require(self, GUIDANCE, "cfg_scales", "re_denoise_cfg")
        require(self, GUIDANCE, "chain_cfg_scales", empty_ok=True)

    def seeds(self) -> list[int]:
        """The seed indices j; x_T of (prompt, j) is drawn from ``prompt_seed(prompt, j)``."""
        return list(range(self.first_seed, self.first_seed + self.seeds_per_prompt))

    def settings(self) -> list[EvalSetting]:
        """Every (CFG scale, step count), step counts major, in the configured order."""
        return [EvalSetting(c, s) for s, c in itertools.product(self.step_counts, self.cfg_scales)]


def chain_method(k: int, renormalize: bool) -> str:
    """Name of the chain-oracle row: ``re_denoise`` (k = 1, the paper's oracle),
    ``re_denoise_x3``, ``re_denoise_x3_renorm``."""
    if k == 1 and not renormalize:
        return ORACLE
    return f"{ORACLE}_x{k}" + ("_renorm" if renormalize else "")


def parse_chain_method(method: str) -> tuple[int, bool] | None:
    """(k, renormalized) of a chain-oracle row name, None for other methods."""
    if method == ORACLE:
        return 1, False
    prefix = f"{ORACLE}_x"
    if not method.startswith(prefix):
        return None
    k, _, suffix = method[len(prefix) :].partition("_")
    return (int(k), suffix == "renorm") if k.isdigit() and suffix in ("", "renorm") else None


@dataclass
class EvaluationInputs:
    """x_T (N, C, H, W) and prompt embeddings (N rows) of every prompt x seed index, prompt
    major, with the seed index and the noise seed of each row."""

    x_T: torch.Tensor
    cond: PromptEmbeds
    seeds: list[int]
    noise_seeds: list[int]


def evaluation_inputs(
    backend: DiffusionBackend, prompts: list[Prompt], seeds: list[int]
) -> EvaluationInputs:
    """x_T and prompt embeddings of every (prompt, seed index), prompt major."""
    jobs = [(i, s) for i in range(len(prompts)) for s in seeds]
    embeds = backend.encode_prompts([p.text for p in prompts])
    noise_seeds = [prompt_seed(prompts[i].text, s) for i, s in jobs]
    return EvaluationInputs(
        backend.initial_noise(noise_seeds),
        embeds.index([i for i, _ in jobs]),
        [s for _, s in jobs],
        noise_seeds,
    )


@dataclass
class MethodImages:
    """Images (N, c, h, w) uint8 of one method at one setting, N = prompts x seeds in
    prompt-major order, the noise they were sampled from (N, C, H, W) float32, and the wall
    seconds spent making the noise and sampling."""

    images: np.ndarray
    noise: np.ndarray
    noise_seconds: float
    sampling_seconds: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _batches(n: int, size: int) -> list[slice]:
    return [slice(i, i + size) for i in range(0, n, size)]


@torch.no_grad()
def method_noise(
    backend: DiffusionBackend, noise_fn: NoiseFn, inputs: EvaluationInputs, batch_size: int = 256
) -> tuple[torch.Tensor, float]:
    """``noise_fn(x_T, cond)`` for every row, in batches: (N, C, H, W) and wall seconds."""
    parts, seconds = [], 0.0
    for rows in _batches(len(inputs.x_T), batch_size):
        start = time.perf_counter()
        x_T = inputs.x_T[rows]
        parts.append(noise_fn(x_T, inputs.cond.index(rows)).to(x_T.dtype))
        _sync(backend.device)
        seconds += time.perf_counter() - start
    return torch.cat(parts), seconds


@torch.no_grad()
def chain_oracle_noise(
    backend: DiffusionBackend,
    inputs: EvaluationInputs,
    lengths: list[int],
    renormalize: bool,
    cfg_denoise: float,
    num_steps: int,
    batch_size: int = 256,
) -> dict[int, tuple[torch.Tensor, float]]:
    """Re-denoise applied k times at inference for every k of ``lengths``, from one chain of
    max(lengths) steps (``re_denoise_chain``): k -> (x'_k (N, C, H, W), wall seconds). A
    state's time is the chain's time x k / max(lengths) (every step costs the same: two UNet
    evaluations)."""
    longest = max(lengths)
    states, seconds = [], 0.0
    for rows in _batches(len(inputs.x_T), batch_size):
        start = time.perf_counter()
        chain = re_denoise_chain(
            backend,
            inputs.x_T[rows],
            inputs.cond.index(rows),
            longest,
            cfg_denoise,
            1.0,
            num_steps,
            renormalize,
        )
        _sync(backend.device)
        seconds += time.perf_counter() - start
        states.append(chain)
    chain = torch.cat(states)
    return {k: (chain[:, k], seconds * k / longest) for k in lengths}


@torch.no_grad()
def sample_noise(
    backend: DiffusionBackend,
    noise: torch.Tensor,
    noise_seconds: float,
    inputs: EvaluationInputs,
    setting: EvalSetting,
    batch_size: int = 256,
) -> MethodImages:
    """Sample every row's image from ``noise`` (N, C, H, W) at ``setting``."""
    images, seconds = [], 0.0
    for rows in _batches(len(noise), batch_size):
        start = time.perf_counter()
        out = backend.generate(
            noise[rows], inputs.cond.index(rows), setting.cfg_scale, setting.num_steps
        )
        _sync(backend.device)
        seconds += time.perf_counter() - start
        images.append(to_uint8(out))
    return MethodImages(np.concatenate(images), noise.float().cpu().numpy(), noise_seconds, seconds)
