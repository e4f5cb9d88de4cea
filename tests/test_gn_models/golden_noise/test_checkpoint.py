"""A damaged checkpoint or one of another architecture gives an error naming the file and
what was expected, never a raw safetensors, JSON or torch error."""

import json

import pytest
import torch

from gn_models.golden_noise.checkpoint import CheckpointError
from gn_models.golden_noise.film_noise_net import FiLMNoiseNet, FiLMNoiseNetConfig
from gn_models.golden_noise.npnet import NPNet
from gn_models.golden_noise.registry import load_golden_model


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = FiLMNoiseNet(FiLMNoiseNetConfig(channels=1, embed_dim=8, hidden=8, num_blocks=1))
    model.save(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def test_truncated_weights_name_the_file(saved):
    weights = saved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is truncated or corrupt"):
        load_golden_model(saved)


def test_truncated_config_names_the_file(saved):
    config = saved / "config.json"
    config.write_text(config.read_text()[:20])
    with pytest.raises(CheckpointError, match=r"config\.json is truncated or corrupt"):
        load_golden_model(saved)


def test_another_kind_is_named(saved):
    with pytest.raises(CheckpointError, match="holds a 'film_noise_net' model, not 'npnet'"):
        NPNet.load(saved)


def test_weights_of_another_shape_name_the_parameters(saved):
    meta = json.loads((saved / "config.json").read_text())
    meta["config"]["hidden"] = 16  # config.json says 16 wide, the weights are 8 wide
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"in the file, .* expected") as err:
        load_golden_model(saved)
    assert "model.safetensors does not fit the film_noise_net" in str(err.value)


def test_weights_of_another_architecture_name_missing_and_unexpected(saved):
    meta = json.loads((saved / "config.json").read_text())
    meta["config"]["num_blocks"] = 2
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="missing"):
        load_golden_model(saved)


def test_a_config_of_another_version_is_named(saved):
    meta = json.loads((saved / "config.json").read_text())
    meta["config"]["no_such_field"] = 1
    (saved / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not fit FiLMNoiseNetConfig"):
        load_golden_model(saved)
