import numpy as np
import pandas as pd
import pytest

from gn_models.evaluation.realism import frechet_distance, realism_table


def sample(n, shift=0.0, seed=0, dim=16):
    return np.random.default_rng(seed).normal(size=(n, dim)) + shift


def test_identical_sets_score_zero():
    a = sample(500)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_a_shifted_set_scores_worse_the_further_it_moves():
    reference = sample(2000, seed=1)
    same = frechet_distance(sample(2000, seed=2), reference)
    near = frechet_distance(sample(2000, 0.2, seed=2), reference)
    far = frechet_distance(sample(2000, 0.5, seed=2), reference)
    assert same < near < far
    # Equal covariances: d^2 = ||mu_1 - mu_2||^2 = 16 * 0.5^2 = 4, to sampling error
    assert far == pytest.approx(4.0, abs=0.3)


def test_a_narrower_set_scores_worse():
    reference = sample(2000, seed=1)
    assert frechet_distance(0.5 * sample(2000, seed=2), reference) > 2.0  # 16 (1 - 0.5)^2 = 4


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="equal D"):
        frechet_distance(sample(10, dim=4), sample(10, dim=5))
    with pytest.raises(ValueError, match="N >= 2"):
        frechet_distance(sample(1), sample(10))


def test_realism_table_scores_each_group():
    reference = sample(1000, seed=1, dim=4)
    features = np.concatenate([sample(300, seed=2, dim=4), sample(300, 1.0, seed=3, dim=4)])
    groups = pd.DataFrame({"method": ["standard"] * 300 + ["ink"] * 300, "cfg_scale": 5.5})
    frame = realism_table(features, groups, reference)
    assert list(frame["method"]) == ["standard", "ink"] and (frame["images"] == 300).all()
    assert frame["fd"].iloc[0] < 0.2 < 3.0 < frame["fd"].iloc[1]
