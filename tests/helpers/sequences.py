"""Random noise sequences of a known shape, for store and storage tests."""

import numpy as np

from gn_models.data.noise_sequences import NoiseSequences


def make_sequences(n=5, fill=0.0, steps=3) -> NoiseSequences:
    """n sequences of steps+1 states (1 x 6 x 10, offset by ``fill``), rewards with NaN at
    the unrewarded states, and the keep flags they imply."""
    rng = np.random.default_rng(0)
    reward = rng.random((n, steps + 1), dtype=np.float32)
    reward[:, 2:-1] = np.nan
    return NoiseSequences(
        prompt=np.array([f"prompt {i}" for i in range(n)], dtype=object),
        label=np.arange(n, dtype=np.int64),
        seed=np.arange(n, dtype=np.int64) * 7,
        noise=rng.standard_normal((n, steps + 1, 1, 6, 10), dtype=np.float32) + fill,
        reward=reward,
        image_standard=rng.integers(0, 255, (n, 1, 6, 10), dtype=np.uint8),
        image_golden=rng.integers(0, 255, (n, 1, 6, 10), dtype=np.uint8),
        kept=reward[:, -1] > reward[:, 0],
    )
