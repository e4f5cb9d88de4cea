import numpy as np
import pandas as pd

from gn_models.evaluation.comparison import build_comparison, comparison_markdown, extra_time


def scores_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for steps in (10, 4):
        for method, shift in (("standard", 0.0), ("re_denoise", 0.1), ("model", 0.05)):
            for p in range(10):
                for seed in range(3):
                    judge = 0.5 + shift + 0.01 * rng.normal()
                    rows.append(
                        {"cfg_scale": 2.0, "num_steps": steps, "method": method,
                         "prompt": f"p{p}", "seed": seed, "reward_judge": judge,
                         "reward_filter": judge + shift, "correct": float(judge > 0.5)}
                    )  # fmt: skip
    return pd.DataFrame(rows)


def test_comparison_against_standard_and_oracle():
    scores = scores_frame()
    realism = scores[["method", "cfg_scale", "num_steps"]].drop_duplicates().assign(fd=1.0)
    parameters = pd.DataFrame(
        {"method": ["standard", "re_denoise", "model"], "parameters": [0, 0, 9]}
    )
    frame = build_comparison(scores, realism, parameters, replicates=200)
    assert list(frame["num_steps"]) == [10, 10, 10, 4, 4, 4]
    assert list(frame["method"][:3]) == ["standard", "re_denoise", "model"]  # as evaluated
    row = frame[(frame["method"] == "model") & (frame["num_steps"] == 10)].iloc[0]
    assert row["judge_win"] > 0.9 and row["oracle_judge_win"] < 0.1  # between the two
    assert row["pairs"] == 30 and row["prompts"] == 10 and row["parameters"] == 9
    assert np.isnan(frame.loc[frame["method"] == "re_denoise", "oracle_judge_win"]).all()
    again = build_comparison(scores, realism, parameters, replicates=200)
    pd.testing.assert_frame_equal(frame, again)  # the seeded bootstrap reproduces


def test_markdown_puts_the_judge_first():
    scores = scores_frame()
    realism = scores[["method", "cfg_scale", "num_steps"]].drop_duplicates().assign(fd=np.nan)
    parameters = pd.DataFrame({"method": ["standard"], "parameters": [0]})
    frame = build_comparison(scores, realism, parameters, replicates=50)
    timings = scores[["method", "cfg_scale", "num_steps"]].drop_duplicates()
    timings = timings.assign(noise_seconds_per_image=0.1, sampling_seconds_per_image=1.0)
    text = comparison_markdown(frame, extra_time(timings))
    header = text.splitlines()[0]
    order = ["judge win vs standard", "accuracy", "FD", "filter win", "hacking gap", "extra time"]
    assert [header.index(h) for h in order] == sorted(header.index(h) for h in order)
    assert len(text.splitlines()) == 2 + len(frame)
    assert "| standard | 2 | 10 | - |" in text and "10.0%" in text
