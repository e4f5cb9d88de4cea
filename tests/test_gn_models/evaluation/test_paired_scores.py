import numpy as np
import pandas as pd
import pytest

from gn_models.evaluation.paired_scores import (
    compare,
    method_means,
    outcome_score,
    pair_with,
    win_rate,
)


def test_wilson_interval_known_values():
    wr = win_rate(np.array([True] * 81 + [False] * 19))
    assert wr.rate == pytest.approx(0.81)
    # Wilson 95% interval for 81/100: (0.7222, 0.8749)
    assert wr.low == pytest.approx(0.7222, abs=1e-3) and wr.high == pytest.approx(0.8749, abs=1e-3)


def test_wilson_interval_edges():
    all_wins = win_rate(np.ones(20, dtype=bool))
    assert all_wins.rate == 1.0 and all_wins.high == 1.0 and 0.8 < all_wins.low < 0.9
    with pytest.raises(ValueError, match="at least one"):
        win_rate(np.array([], dtype=bool))


def image_scores(method_rewards: dict, prompts=("a", "b", "c"), seeds=(1, 2)) -> pd.DataFrame:
    """One row per image; method -> (judge, filter, correct), the same for every pair."""
    rows = [
        {"cfg_scale": 5.5, "num_steps": 10, "method": m, "prompt": p, "seed": s,
         "reward_judge": j, "reward_filter": f, "correct": c}
        for m, (j, f, c) in method_rewards.items() for p in prompts for s in seeds
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_outcomes_count_ties_as_half():
    delta = np.array([0.2, 0.0, 5e-7, -1e-3])
    assert list(outcome_score(delta)) == [1.0, 0.5, 0.5, 0.0]


def test_a_method_that_fools_the_filter_shows_a_hacking_gap():
    scores = image_scores(
        {"standard": (0.8, 0.5, 1.0), "ink": (0.6, 0.9, 0.0), "same": (0.8, 0.5, 1.0)}
    )
    table = compare(scores, "standard").set_index("method")
    ink, same = table.loc["ink"], table.loc["same"]
    assert ink["judge_win"] == 0.0 and ink["filter_win"] == 1.0 and ink["hacking_gap"] == 1.0
    assert ink["judge_gain"] == pytest.approx(-0.2) and ink["accuracy_gain"] == -1.0
    assert (ink["judge_wins"], ink["judge_ties"], ink["judge_losses"]) == (0, 0, 6)
    assert same["judge_win"] == 0.5 and same["judge_ties"] == 6 and same["hacking_gap"] == 0.0
    assert ink["pairs"] == 6 and ink["prompts"] == 3


def test_pairs_match_prompt_and_seed():
    scores = image_scores({"standard": (0.5, 0.5, 1.0), "m": (0.5, 0.5, 1.0)})
    scores.loc[(scores["method"] == "m") & (scores["seed"] == 2), "reward_judge"] = 0.9
    pairs = pair_with(scores, "standard")
    assert list(pairs.groupby("seed")["judge_win"].mean()) == [0.5, 1.0]
    means = method_means(scores).set_index("method")
    assert means.loc["m", "judge_reward"] == pytest.approx(0.7) and means.loc["m", "images"] == 6
