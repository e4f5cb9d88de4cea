import math

import numpy as np
import pytest
import torch

from gn_models.sampling.gaussian_shell import (
    chi_mean,
    chi_std,
    noise_statistics,
    rescale_to_norm,
)

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dim", [1, 2, 64, 16384])
def test_chi_moments_match_the_closed_forms_and_a_monte_carlo(dim):
    if dim == 1:
        assert chi_mean(1) == pytest.approx(math.sqrt(2 / math.pi))  # E|z|
    if dim == 2:
        assert chi_mean(2) == pytest.approx(math.sqrt(math.pi / 2))  # Rayleigh
    norms = np.linalg.norm(rng.standard_normal((4000, dim)), axis=1)
    assert chi_mean(dim) == pytest.approx(norms.mean(), abs=4 * norms.std() / math.sqrt(4000))
    assert chi_std(dim) == pytest.approx(norms.std(), rel=0.06)
    if dim >= 64:
        assert chi_std(dim) == pytest.approx(1 / math.sqrt(2), abs=0.005)  # the shell's width


def test_rescale_to_norm_keeps_the_direction_and_takes_the_reference_norm():
    x, ref = torch.randn(5, 1, 8, 8) * 3, torch.randn(5, 1, 8, 8)
    out = rescale_to_norm(x, ref)
    torch.testing.assert_close(out.flatten(1).norm(dim=1), ref.flatten(1).norm(dim=1))
    cosine = torch.nn.functional.cosine_similarity(out.flatten(1), x.flatten(1))
    torch.testing.assert_close(cosine, torch.ones(5))
    assert rescale_to_norm(x.half(), ref).dtype == torch.float16


def test_noise_statistics_tell_gaussian_noise_from_inflated_and_non_gaussian_noise():
    x_T = rng.standard_normal((500, 1, 8, 8))
    fresh = noise_statistics(rng.standard_normal(x_T.shape), x_T)
    assert abs(fresh["norm_z"]) < 0.2 and abs(fresh["norm_ratio"] - 1) < 0.03
    assert abs(fresh["entry_std"] - 1) < 0.02 and abs(fresh["entry_kurtosis"]) < 0.1
    assert fresh["entry_ks"] < 0.02
    inflated = noise_statistics(1.76 * x_T, x_T)  # the paper's 10-step chain on digits
    assert inflated["norm_z"] > 7 and inflated["norm_ratio"] == pytest.approx(1.76)
    uniform = noise_statistics(rng.uniform(-math.sqrt(3), math.sqrt(3), x_T.shape), x_T)
    assert abs(uniform["norm_z"]) < 1  # unit variance: on the shell ...
    assert uniform["entry_kurtosis"] < -1 and uniform["entry_ks"] > 0.05  # ... but not Gaussian
