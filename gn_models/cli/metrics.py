"""Metric specs of the command line: ``--metric KIND`` or ``--metric KIND:key=value,...``.

KIND is a reward kind of ``gn_models.rewards.registry`` whose class loads pretrained weights
(it defines ``from_config``); the digit rewards, which the Dagster graph trains, are not
offered. Each ``key=value`` sets a field of the reward's ``config_class`` dataclass, the value
read as the field's type (int, float, bool, str; ``none`` for an optional field), e.g.
``hpsv2:checkpoint=/models/HPS_v2.1_compressed.pt`` or
``pickscore:model=/models/PickScore_v1,processor=/models/CLIP-ViT-H-14``. The reward is built
with ``reward_class(kind).from_config(config_class(**options), device)``.

The registry is imported only when a spec is read or the help is shown: importing it imports
torch, which ``golden-noise --help`` should not wait for.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any

import click

BOOLEANS = {"true": True, "yes": True, "on": True, "1": True}
BOOLEANS |= {"false": False, "no": False, "off": False, "0": False}


@dataclass(frozen=True)
class MetricSpec:
    """A parsed ``--metric``: the reward kind, the config fields it sets and the text given."""

    kind: str
    options: tuple[tuple[str, Any], ...]
    text: str


def _rewards():
    from gn_models.rewards.registry import REWARD_CLASSES

    return REWARD_CLASSES


def loads_weights(cls: type) -> bool:
    """Whether a reward class is offered: it builds from its config alone (``from_config``,
    pretrained weights), not from a folder the Dagster graph prepared."""
    return callable(getattr(cls, "from_config", None))


def offered_kinds() -> list[str]:
    """Kinds of the registered rewards the command line can build, in registry order."""
    return [kind for kind, cls in _rewards().items() if loads_weights(cls)]


def config_fields(cls: type) -> dict[str, Any]:
    """Settable fields of a reward's config dataclass -> their (resolved) types."""
    config = cls.config_class
    hints = typing.get_type_hints(config)
    return {f.name: hints.get(f.name, str) for f in dataclasses.fields(config) if f.init}


def _describe_fields(cls: type) -> str:
    defaults = cls.config_class()
    return ", ".join(f"{name}={getattr(defaults, name)!r}" for name in config_fields(cls))


def parse_value(text: str, kind: type, key: str) -> Any:
    """``text`` as a value of type ``kind`` (int, float, bool, str, or an optional of one).

    Raises:
        ValueError: the text does not read as that type, or the type is not one of those.
    """
    text = text.strip()
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        if type(None) in args and text.lower() in ("none", "null", ""):
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return parse_value(text, rest[0], key)
        kind = rest  # str | int etc.: not supported below
    if kind is bool:
        if text.lower() not in BOOLEANS:
            raise ValueError(f"{key}={text!r}: expected true or false")
        return BOOLEANS[text.lower()]
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(
                f"{key}={text!r}: expected {'an integer' if kind is int else 'a number'}"
            ) from None
    if kind is str:
        return text
    raise ValueError(f"{key} (of type {kind}) cannot be set on the command line")


def parse_metric(text: str) -> MetricSpec:
    """Read a ``--metric`` value (module docstring).

    Raises:
        click.BadParameter: an unknown kind (the message lists the available ones), an item
            that is not ``key=value``, a field the reward's config does not have (the message
            lists its fields), a key given twice, or a value of the wrong type.
    """
    kind, _, rest = text.partition(":")
    kind = kind.strip()
    rewards = _rewards()
    offered = offered_kinds()
    if kind not in offered:
        why = (
            f"{kind!r} is a reward the Dagster graph trains, not one loaded from pretrained weights"
            if kind in rewards
            else f"unknown metric kind {kind!r}"
        )
        raise click.BadParameter(f"{why}; available: {', '.join(offered)}.")
    cls = rewards.get(kind)
    fields = config_fields(cls)
    options: dict[str, Any] = {}
    for item in rest.split(","):
        if not item.strip():
            continue
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise click.BadParameter(
                f"{item.strip()!r} in {text!r} is not key=value; write "
                f"{kind}:key=value,key=value (fields of {kind}: {_describe_fields(cls)})."
            )
        if key not in fields:
            raise click.BadParameter(
                f"{kind} has no setting {key!r}; its settings (with defaults): "
                f"{_describe_fields(cls)}."
            )
        if key in options:
            raise click.BadParameter(f"{key!r} is given twice in {text!r}.")
        try:
            options[key] = parse_value(value, fields[key], key)
        except ValueError as err:
            raise click.BadParameter(f"{err} (in {text!r}).") from None
    return MetricSpec(kind, tuple(options.items()), text)


class MetricType(click.ParamType):
    """click type of ``--metric``: a ``MetricSpec``."""

    name = "KIND[:key=value,...]"

    def convert(self, value, param, ctx):
        if isinstance(value, MetricSpec):
            return value
        try:
            return parse_metric(value)
        except click.BadParameter as err:
            self.fail(err.message, param, ctx)


class MetricOption(click.Option):
    """``--metric``, whose help lists the kinds registered when the help is shown."""

    def get_help_record(self, ctx):
        base = self.help
        self.help = f"{base} Available: {', '.join(offered_kinds())}."
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = base


def metric_option(fn):
    """The ``--metric`` / ``-m`` option (repeatable, at least one), as a decorator."""
    return click.option(
        "--metric",
        "-m",
        "metrics",
        cls=MetricOption,
        type=MetricType(),
        multiple=True,
        required=True,
        help="A metric, repeatable: a reward kind, optionally with settings of its config, "
        "e.g. hpsv2:checkpoint=/m/HPS_v2.1_compressed.pt or "
        "pickscore:model=/m/PickScore_v1,processor=/m/CLIP-ViT-H-14.",
    )(fn)


def check_device(ctx, param, value: str) -> str:
    """click callback of ``--device``: "auto", "cpu", "cuda", "cuda:N" (CUDA only when there
    is a GPU), "mps" and the other torch device names."""
    import torch

    if value == "auto":
        return value
    try:
        device = torch.device(value)
    except RuntimeError as err:
        raise click.BadParameter(
            f"{value!r} is no torch device ({err}); use auto, cpu or cuda:0."
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise click.BadParameter(f"{value!r}: torch sees no CUDA GPU here; use --device cpu.")
    return value


def device_option(fn):
    return click.option(
        "--device",
        default="auto",
        show_default=True,
        callback=check_device,
        help="Where the metrics run: auto (CUDA when there is a GPU, else the CPU), cpu, "
        "cuda:0, ...",
    )(fn)


def batch_size_option(fn):
    return click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=16,
        show_default=True,
        help="Images read and scored at once (also the metric's batch_size unless the "
        "--metric sets it).",
    )(fn)


def build_metrics(specs, device: str, batch_size: int) -> list[tuple[Any, Any]]:
    """(config, reward) of each of ``specs``, loaded once each, in order.

    Raises:
        click.BadParameter: a setting the reward's config rejects, or two metrics with the
            same ``name`` (they would share a column).
        click.ClickException: weights that are missing (the message says what to download)
            or do not load.
    """
    rewards = []
    for spec in specs:
        cls = _rewards().get(spec.kind)
        options = dict(spec.options)
        if "batch_size" in config_fields(cls):
            options.setdefault("batch_size", batch_size)
        try:
            config = cls.config_class(**options)
        except (TypeError, ValueError) as err:
            raise click.BadParameter(f"{spec.text}: {err}", param_hint="'--metric'") from None
        try:
            reward = cls.from_config(config, device)
        except (OSError, ImportError, ValueError, RuntimeError) as err:  # no weights: OSError
            raise click.ClickException(f"Could not load metric {spec.text!r}: {err}") from None
        rewards.append((config, reward))
    names = [reward.name for _, reward in rewards]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise click.BadParameter(
            f"two metrics are named {', '.join(twice)}: each metric is one column, named by "
            "the reward's name; score them in separate runs (with different --out).",
            param_hint="'--metric'",
        )
    return rewards
