import pytest
import torch

from gn_models.data.digits import SPLITS, load_digit_splits
from gn_models.rewards.digit_classifier import DigitClassifierReward, DigitClassifierRewardConfig
from gn_models.rewards.digit_cnn import DigitCNNReward, DigitCNNRewardConfig, random_shifts


def test_the_judge_trains_on_images_nobody_else_saw():
    """Independence: the base model, the filter, the judge and the held-out set use disjoint
    images of sklearn's digits, and together all of them."""
    splits = load_digit_splits(seed=0)
    indices = {name: set(splits.indices[name].tolist()) for name in SPLITS}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            assert not indices[a] & indices[b], (a, b)
    assert set().union(*indices.values()) == set(range(1797))
    assert len(indices["judge_train"]) > 200 and len(indices["heldout"]) > 100
    for name in SPLITS:  # images and labels follow the indices
        assert len(getattr(splits, name)[1]) == len(indices[name])


def test_judge_prepares_loads_and_scores(tmp_path):
    config = DigitCNNRewardConfig(epochs=40)
    prepared = DigitCNNReward.prepare(config, tmp_path)
    assert prepared.metadata["heldout_accuracy"] > 0.9
    assert prepared.metadata["accuracy_base"] > 0.9  # real digits it never saw
    judge = DigitCNNReward.load(config, tmp_path)
    splits = load_digit_splits(0)
    images, labels = splits.heldout[0][:20], splits.heldout[1][:20]
    pixels = (images + 1) / 2
    scores = judge.score(pixels, ["p"] * 20, labels.tolist())
    assert scores.shape == (20,) and scores.dtype == torch.float32
    assert ((scores >= 0) & (scores <= 1)).all()
    assert judge.top1(pixels).dtype == torch.int64
    upscaled = pixels.repeat_interleave(4, -1).repeat_interleave(4, -2).expand(-1, 3, -1, -1)
    assert torch.allclose(judge.score(upscaled, ["p"] * 20, labels.tolist()), scores, atol=1e-6)
    assert judge.features(pixels).shape == (20, 64)
    real = len(splits.filter_train[1]) + len(splits.heldout[1])  # neither base nor judge saw
    assert judge.reference_features().shape == (real, 64)
    with pytest.raises(ValueError, match="label"):
        judge.score(pixels[:1], ["a handwritten cat"], [None])


def test_training_is_deterministic_and_another_class_than_the_filter(tmp_path):
    config = DigitCNNRewardConfig(epochs=3)
    DigitCNNReward.prepare(config, tmp_path / "a")
    DigitCNNReward.prepare(config, tmp_path / "b")
    assert (tmp_path / "a/reward.safetensors").read_bytes() == (
        tmp_path / "b/reward.safetensors"
    ).read_bytes()
    DigitClassifierReward.prepare(DigitClassifierRewardConfig(), tmp_path / "filter")
    with pytest.raises(ValueError, match="not 'digit-cnn'"):
        DigitCNNReward.load(config, tmp_path / "filter")
    with pytest.raises(FileNotFoundError, match="judge_reward_model"):
        DigitCNNReward.load(config, tmp_path / "missing")


def test_random_shifts_move_images_by_at_most_one_pixel():
    x = torch.zeros(50, 1, 8, 8)
    x[:, :, 3:5, 3:5] = 1.0
    moved = random_shifts(x, torch.Generator().manual_seed(0))
    assert moved.shape == x.shape and (moved.sum((1, 2, 3)) == 4).all()  # nothing cut off
    assert not torch.equal(moved, x) and (moved[:, :, :2].sum() == 0)  # shifted, within 1 px
