"""Every reward model, by ``kind``.

Adding a reward: its file in this package, plus one entry in ``REWARD_CLASSES`` below (or
``register_reward(cls)`` from outside the package, before the Dagster definitions are built).
"""

from __future__ import annotations

from gn_models.rewards.aesthetic import AestheticReward
from gn_models.rewards.base import RewardModel
from gn_models.rewards.clip_score import CLIPScoreReward
from gn_models.rewards.digit_classifier import DigitClassifierReward
from gn_models.rewards.digit_cnn import DigitCNNReward
from gn_models.rewards.digit_mlp import DigitMLPReward
from gn_models.rewards.hpsv2 import HPSv2Reward
from gn_models.rewards.image_reward import ImageReward
from gn_models.rewards.pickscore import PickScoreReward
from gn_models.utils.registry import Registry

REWARD_CLASSES: Registry[RewardModel] = Registry(
    "reward",
    [
        DigitClassifierReward,
        DigitCNNReward,
        DigitMLPReward,
        HPSv2Reward,
        PickScoreReward,
        ImageReward,
        AestheticReward,
        CLIPScoreReward,
    ],
)
register_reward = REWARD_CLASSES.register
reward_class = REWARD_CLASSES.get
