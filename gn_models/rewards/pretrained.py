"""Rewards from pretrained weights (PickScore, ImageReward, AES, CLIPScore): one way to make
them ready for the graph and to load them again.

``prepare`` loads the weights once to verify them, scores a grey square, and records the
reward's name, version, the config fields named by ``recorded`` and where the weights load
from (``weight_files``) in ``directory/reward.json``; the weights stay where they are. ``load``
refuses a config whose recorded fields differ, so a graph never scores with other weights
than its reward asset verified.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from gn_models.rewards.base import RewardModel
from gn_models.types import PreparedModel
from gn_models.utils.records import check_record, write_record

RECORD_FILE = "reward.json"  # what ``prepare`` writes: which weights the graph uses


class PretrainedReward(RewardModel):
    """A ``RewardModel`` built from pretrained weights by ``from_config``.

    Class attribute ``recorded``: the config fields that name the weights and change scores
    (e.g. ``("model", "processor")``); ``prepare`` records them, ``load`` checks them.
    """

    recorded: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_config(cls, config: Any, device: str = "auto") -> PretrainedReward:
        """The reward as ``config`` (an instance of ``config_class``) says, on ``device``."""
        raise NotImplementedError(f"{cls.__name__} does not define from_config().")

    def weight_files(self, config: Any) -> dict[str, Any]:
        """JSON-ready entries that say which files the weights loaded from (snapshot folders,
        checkpoint paths), recorded beside ``recorded``."""
        return {}

    @classmethod
    def prepare(cls, config: Any, directory: Path, device: str = "auto") -> PreparedModel:
        """Verify the weights and record them in ``directory/reward.json`` (module docstring).
        Returns the reward, its recorded settings and the grey square's score, for the UI.
        Raises as ``from_config`` does."""
        reward = cls.from_config(config, device)
        check = reward.score(torch.full((1, 3, 64, 64), 0.5), ["a grey square"], [None])
        settings = {key: getattr(config, key) for key in cls.recorded}
        record = {"name": reward.name, "version": reward.version, **settings}
        write_record(directory / RECORD_FILE, record | reward.weight_files(config))
        return PreparedModel(
            {
                "reward": f"{reward.name} {reward.version}",
                **settings,
                "score_of_grey_square": float(check[0]),
            }
        )

    @classmethod
    def load(cls, config: Any, directory: Path, device: str = "auto") -> PretrainedReward:
        """The reward as configured, after checking that ``prepare`` recorded the same
        ``recorded`` fields.

        Raises:
            FileNotFoundError: no record (materialize the reward asset first).
            ValueError: the record names other weights or settings (rematerialize it).
        """
        for key in cls.recorded:
            check_record(directory / RECORD_FILE, key, getattr(config, key), "the reward model")
        return cls.from_config(config, device)
