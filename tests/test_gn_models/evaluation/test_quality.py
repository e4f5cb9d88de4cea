import numpy as np
import pandas as pd

from gn_models.evaluation.quality import (
    kept_fraction_above,
    norm_ratio_in_band,
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


def test_norm_band_per_sample():
    x = rng.standard_normal((4, 4, 16, 16))
    assert norm_ratio_in_band(0.9 * x + 0.1 * rng.standard_normal(x.shape), x).passed
    far = x.copy()
    far[2] *= 5.0
    verdict = norm_ratio_in_band(far, x)
    assert not verdict.passed and verdict.metrics["outside_band"] == 1
    assert norm_ratio_in_band(far, x, max_outside=0.25).passed  # one outlier in four
    assert not norm_ratio_in_band(x[:, :2], x).passed  # wrong shape
    assert not norm_ratio_in_band(np.full_like(x, np.inf), x).passed


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
