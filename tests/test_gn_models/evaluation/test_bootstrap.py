import numpy as np
import pytest

from gn_models.evaluation.bootstrap import cluster_bootstrap
from gn_models.evaluation.paired_scores import win_rate


def test_one_pair_per_prompt_matches_the_normal_interval():
    """Known case: independent pairs (one per prompt); the percentile interval of a mean of
    400 Bernoulli(0.7) outcomes is mean +- 1.96 sqrt(p (1 - p) / n) to sampling error."""
    outcomes = np.random.default_rng(1).random(400) < 0.7
    boot = cluster_bootstrap(outcomes[:, None], np.arange(400), replicates=4000)
    p = outcomes.mean()
    half = 1.96 * np.sqrt(p * (1 - p) / 400)
    assert boot.mean[0] == pytest.approx(p)
    assert boot.low[0] == pytest.approx(p - half, abs=0.008)
    assert boot.high[0] == pytest.approx(p + half, abs=0.008)
    assert boot.clusters == 400


def test_seeds_of_one_prompt_do_not_count_as_independent():
    """Four identical seeds per prompt carry no more information than one: the cluster
    interval stays that of the 100 prompts, where the Wilson interval on 400 'independent'
    pairs would be half as wide."""
    outcomes = np.random.default_rng(2).random(100) < 0.6
    one = cluster_bootstrap(outcomes[:, None], np.arange(100), seed=7)
    four = cluster_bootstrap(np.repeat(outcomes, 4)[:, None], np.repeat(np.arange(100), 4), seed=7)
    assert four.low[0] == one.low[0] and four.high[0] == one.high[0]
    naive = win_rate(np.repeat(outcomes, 4))
    assert (naive.high - naive.low) < 0.6 * (four.high[0] - four.low[0])


def test_columns_share_resamples_and_the_seed_fixes_the_interval():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(120, 2))
    values[:, 1] = values[:, 0] * 2 + 1  # a linear function of column 0
    clusters = np.repeat(np.arange(30), 4)
    boot = cluster_bootstrap(values, clusters, seed=5)
    assert boot.low[1] == pytest.approx(2 * boot.low[0] + 1)  # the same resamples
    again = cluster_bootstrap(values, clusters, seed=5)
    assert np.array_equal(boot.low, again.low) and np.array_equal(boot.high, again.high)
    assert not np.array_equal(boot.low, cluster_bootstrap(values, clusters, seed=6).low)


def test_unequal_clusters_weigh_by_pairs_and_bad_input_is_named():
    values = np.array([1.0, 1.0, 1.0, 0.0])
    boot = cluster_bootstrap(values, np.array(["a", "a", "a", "b"]))
    assert boot.mean[0] == 0.75 and boot.low[0] == 0.0 and boot.high[0] == 1.0
    with pytest.raises(ValueError, match="one cluster label per pair"):
        cluster_bootstrap(values, np.array(["a"]))
    with pytest.raises(ValueError, match="replicates >= 2"):
        cluster_bootstrap(values, np.arange(4), replicates=0)
