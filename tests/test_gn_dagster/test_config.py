"""Run configs come from the library's dataclasses: one source of names, types and defaults,
turned back into the dataclasses by keyword."""

import dataclasses

import pydantic
import pytest

from gn_dagster.config import config_class, dataclass_from_dict, to_dataclass
from gn_dagster.defs.golden_noise.assets import asset_config_class
from gn_models.golden_noise.noise_gru import NoiseGRU, NoiseGRUConfig
from gn_models.golden_noise.registry import MODEL_CLASSES
from gn_models.golden_noise.training import TrainingConfig
from gn_models.utils.validation import AT_LEAST_1, require


@pytest.mark.parametrize("cls", MODEL_CLASSES.values(), ids=lambda c: c.kind)
def test_model_asset_configs_have_the_dataclass_defaults(cls):
    config = asset_config_class(cls)()
    model_fields = [
        f for f in dataclasses.fields(cls.config_class) if f.name not in cls.data_fields
    ]
    for field in model_fields:
        assert getattr(config, field.name) == field.default, (cls.kind, field.name)
    for field in dataclasses.fields(TrainingConfig):
        expected = cls.training_defaults.get(field.name, field.default)
        assert getattr(config, field.name) == expected, (cls.kind, field.name)
    assert not set(cls.data_fields) & set(type(config).model_fields)  # set from the data


def test_values_go_back_by_keyword():
    config = asset_config_class(NoiseGRU)(hidden=8, steps=7, predict_variance=True)
    model = to_dataclass(NoiseGRUConfig, config)
    training = to_dataclass(TrainingConfig, config)
    assert (model.hidden, model.predict_variance, model.gru_dim) == (8, True, 96)
    assert (training.steps, training.batch_size) == (7, 32)  # GRU's own default batch size


def test_bad_definitions_and_settings_are_refused():
    @dataclasses.dataclass
    class A:
        x: int = 1

    @dataclasses.dataclass
    class B:
        x: int = 2

    with pytest.raises(ValueError, match="'x' is defined twice"):
        config_class("AB", A, B)
    with pytest.raises(ValueError, match=r"defaults for unknown fields \['y'\]"):
        config_class("A", A, defaults={"y": 3})
    with pytest.raises(ValueError, match=r"unknown settings \['z'\].*known: \['x'\]"):
        dataclass_from_dict(A, {"z": 1}, "toy settings")


def test_a_run_config_refuses_what_its_dataclasses_refuse():
    @dataclasses.dataclass
    class Steps:
        steps: int = 1

        def __post_init__(self):
            require(self, AT_LEAST_1, "steps")

    steps_config = config_class("StepsConfig", Steps)
    assert steps_config(steps=3).steps == 3
    with pytest.raises(pydantic.ValidationError, match=r"Steps.steps=0 is invalid: set it to an"):
        steps_config(steps=0)  # as Dagster builds it at the start of the step
