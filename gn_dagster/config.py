"""Dagster run configs made from the library's config dataclasses.

A dataclass in ``gn_models`` is the one source of a setting's name, type and default; the
Dagster ``Config`` class that the UI's launchpad shows is generated from it, and turned back
into the dataclass by keyword (never by position). The dataclasses check their values
(``__post_init__``), and the generated class builds them when Dagster builds the run config,
so a bad value (zero steps, a NaN guidance scale) fails at the start of the step, before any
data is read, with the dataclass's message naming the field and the value.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable
from typing import Any, TypeVar

import pydantic
from dagster import Config
from pydantic import model_validator

T = TypeVar("T")


def config_class(
    name: str,
    *parts: type,
    defaults: dict[str, Any] | None = None,
    exclude: Iterable[str] = (),
    extra: dict[str, tuple[type, Any]] | None = None,
    doc: str = "",
) -> type[Config]:
    """A Dagster ``Config`` class with the fields of the dataclasses ``parts`` (in order);
    building it builds each part, so the parts' own checks run on the configured values.

    Args:
        name: class name (shown in the UI's config schema).
        defaults: replaced defaults by field name (a model's ``training_defaults``).
        exclude: fields left out (a model's ``data_fields``, set from the data).
        extra: further fields, name -> (type, default).
        doc: the class docstring (the UI shows it as the config's description).

    Raises:
        ValueError: two parts define the same field, or ``defaults`` names no field. (An
            instance with a value that a part refuses raises pydantic's ValidationError,
            holding the part's message.)
    """
    defaults, exclude = dict(defaults or {}), set(exclude)
    fields: dict[str, tuple[Any, Any]] = {}
    for part in parts:
        hints = typing.get_type_hints(part)
        for field in dataclasses.fields(part):
            if field.name in exclude:
                continue
            if field.name in fields:
                raise ValueError(f"{name}: field {field.name!r} is defined twice.")
            fields[field.name] = (hints[field.name], _default(field))
    fields |= dict(extra or {})
    unknown = sorted(set(defaults) - set(fields))
    if unknown:
        raise ValueError(f"{name}: defaults for unknown fields {unknown}.")
    for key, value in defaults.items():
        fields[key] = (fields[key][0], value)
    return pydantic.create_model(
        name,
        __base__=Config,
        __doc__=doc or None,
        __validators__={"check_parts": _parts_validator(parts)},
        **fields,
    )


def _parts_validator(parts: tuple[type, ...]):
    """A pydantic validator that builds every dataclass of ``parts`` from the config's values
    (their ``__post_init__`` checks run; a ValueError becomes a ValidationError)."""

    def check_parts(config):
        for part in parts:
            to_dataclass(part, config)
        return config

    return model_validator(mode="after")(check_parts)


def to_dataclass(cls: type[T], config: Any) -> T:
    """The dataclass ``cls`` from the fields of ``config`` that it has (by keyword); fields
    ``config`` lacks keep their defaults."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{n: getattr(config, n) for n in names if hasattr(config, n)})


def dataclass_from_dict(cls: type[T], values: dict[str, Any], where: str) -> T:
    """The dataclass ``cls`` from a dict of settings, by keyword.

    Raises:
        ValueError: a key that is not a field of ``cls`` (the message names ``where`` and the
            fields).
    """
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"{where}: unknown settings {unknown} for {cls.__name__}; known: {names}.")
    return cls(**values)


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    raise ValueError(f"Field {field.name!r} has no default; a run config needs one.")
