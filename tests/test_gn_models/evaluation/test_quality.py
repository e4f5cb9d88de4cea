import numpy as np
import pandas as pd

from gn_models.evaluation.quality import (
    kept_fraction_above,
    norm_on_shell,
    score_table_complete,
    standard_normal,
)

rng = np.random.default_rng(0)


def test_standard_normal_accepts_gaussian_noise_and_rejects_the_rest():
    x = rng.standard_normal((36, 1, 8, 8)).astype(np.float32)
    assert standard_normal(x).passed
    assert not standard_normal(x + 0.3).passed  # mean off
    assert not standard_normal(x * 1.2).passed  # std off
    assert not standard_normal(rng.uniform(-1, 1, x.shape)).passed
    broken = x.copy()
    broken[0, 0, 0, 0] = np.nan
    assert not standard_normal(broken).passed
    assert standard_normal(np.zeros((0, 1, 8, 8))).passed  # an empty shard


def test_norm_on_shell_allows_the_chi_spread_and_fails_an_inflated_chain():
    x = rng.standard_normal((200, 1, 8, 8))
    fresh = rng.standard_normal(x.shape)  # another Gaussian sample: on the shell
    assert norm_on_shell(fresh, x).passed
    assert norm_on_shell(0.9 * x + 0.1 * fresh, x).passed
    assert not norm_on_shell(1.76 * x, x).passed  # the paper's 10-step digits chain: ~8 std
    assert not norm_on_shell(0.5 * x, x).passed  # collapsed
    far = x.copy()
    far[:5] *= 2.0  # 5 of 200 off the shell: over the 2% allowed
    verdict = norm_on_shell(far, x)
    assert not verdict.passed and verdict.metrics["off_shell"] == 5
    assert norm_on_shell(far, x, max_outside=0.03).passed
    assert not norm_on_shell(x[:, :, :4], x).passed  # wrong shape
    assert not norm_on_shell(np.full_like(x, np.inf), x).passed


def test_norm_on_shell_tolerance_is_the_same_for_any_dimension():
    big = rng.standard_normal((50, 4, 64, 64))  # 16384 dimensions: the chi std is still ~0.71
    assert norm_on_shell(rng.standard_normal(big.shape), big).passed
    assert not norm_on_shell(1.05 * big, big).passed  # +5% is +6 on a norm of 128


def test_kept_fraction_fails_only_when_confidently_below_the_floor():
    assert kept_fraction_above(np.array([False] * 3)).passed  # 3 samples prove nothing
    assert not kept_fraction_above(np.array([True] * 2 + [False] * 298)).passed
    assert kept_fraction_above(np.array([True] * 150 + [False] * 150)).passed


def scores_table(prompts, seeds, groups):
    rows = [
        {**g, "prompt": p, "seed": s, "reward_judge": 0.2, "reward_filter": 0.7}
        for g in groups
        for p in prompts
        for s in seeds
    ]
    return pd.DataFrame(rows)


def test_score_table_completeness_and_range():
    prompts, seeds = ["one", "two"], [1, 2, 3]
    groups = [{"cfg_scale": 5.5, "num_steps": 10, "method": m} for m in ("standard", "npnet")]
    table, expected = scores_table(prompts, seeds, groups), pd.DataFrame(groups)
    ranges = {"reward_judge": (0, 1), "reward_filter": (0, 1)}
    assert score_table_complete(table, prompts, seeds, expected, ranges).passed
    missing = score_table_complete(table.iloc[1:], prompts, seeds, expected, ranges)
    assert not missing.passed and missing.metrics["missing"] == 1
    doubled = pd.concat([table, table.iloc[:1]])
    assert score_table_complete(doubled, prompts, seeds, expected, ranges).metrics["duplicated"]
    wild = table.assign(reward_filter=[1.5] + [0.7] * (len(table) - 1))
    verdict = score_table_complete(wild, prompts, seeds, expected, ranges)
    assert not verdict.passed and "reward_filter [0, 1]" in verdict.description
    wide = {**ranges, "reward_filter": (-2, 2)}
    assert score_table_complete(wild, prompts, seeds, expected, wide).passed
