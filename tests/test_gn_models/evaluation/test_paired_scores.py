import numpy as np
import pytest

from gn_models.evaluation.paired_scores import win_rate


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
