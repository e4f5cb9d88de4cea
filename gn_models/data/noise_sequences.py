"""The noise-sequence dataset in memory: re-denoise chains x_T -> x'_1 -> ... -> x'_n with
their rewards and keep flags (the paper's noise prompt dataset, NPD; one-step pairs are
n = 1). ``gn_models.data.collect`` makes it, ``gn_models.data.noise_sequence_store`` stores it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class NoiseSequences:
    """N re-denoise sequences; numpy arrays, N = prompts x seeds.

    Attributes:
        prompt: (N,) str. label: (N,) int64, -1 where the prompt has none. seed: (N,) int64.
        noise: (N, n+1, C, H, W) float32, [x_T, x'_1, ..., x'_n].
        reward: (N, n+1) float32 reward of the image sampled from each state; NaN for states
            not rewarded (see gn_models.data.collect.CollectionConfig.reward_steps).
        image_standard, image_golden: (N, c, h, w) uint8 images sampled from x_T and x'_n.
        kept: (N,) bool, reward(x'_n) > reward(x_T) + m (the filter of the whole sequence).
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
    def concat(cls, parts: list[NoiseSequences]) -> NoiseSequences:
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )


def kept_at(reward: np.ndarray, step: int, margin: float) -> np.ndarray:
    """The filter for state ``step``: reward(x'_step) > reward(x_T) + m, (N,) bool
    from rewards (N, n+1)."""
    return reward[:, step] > reward[:, 0] + margin
