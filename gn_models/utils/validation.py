"""Checks of config values, called from the ``__post_init__`` of the config dataclasses: a bad
value (zero steps, a NaN guidance scale, an unknown name) fails when the config is built, with
a message that names the field, the value and what to set instead, never deep inside torch.

    def __post_init__(self):
        require(self, AT_LEAST_1, "num_steps", "batch_size")
        require(self, GUIDANCE, "cfg_scales")  # a list: every item is checked
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


class ConfigValueError(ValueError):
    """A config field holds a value it cannot take.

    ``owner`` (the config class), ``field``, ``value`` and ``fix`` (what to set instead) are
    kept apart, so that a caller that knows where the value came from (an environment
    variable) can name it.
    """

    def __init__(self, owner: str, field: str, value: Any, fix: str):
        self.owner, self.field, self.value, self.fix = owner, field, value, fix
        super().__init__(f"{owner}.{field}={value!r} is invalid: {fix}.")


@dataclass(frozen=True)
class Rule:
    """A condition on one value and the fix that the error states ("an integer >= 1")."""

    test: Callable[[Any], bool]
    wants: str

    def holds(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except TypeError:  # a value of the wrong type (say a string) breaks the rule
            return False


AT_LEAST_1 = Rule(lambda v: v >= 1, "an integer >= 1")
AT_LEAST_0 = Rule(lambda v: v >= 0, "an integer >= 0")
FINITE = Rule(math.isfinite, "a finite number (not NaN or Inf)")
NON_NEGATIVE = Rule(lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
GUIDANCE = Rule(lambda v: math.isfinite(v) and v >= 0, "a finite guidance (CFG) scale >= 0")
FRACTION = Rule(lambda v: 0 <= v < 1, "a fraction in [0, 1)")
PROBABILITY = Rule(lambda v: 0 <= v <= 1, "a probability in [0, 1]")


def multiple_of(n: int, why: str) -> Rule:
    """The rule "is a positive multiple of ``n``" (``why``: the reason, for the message)."""
    return Rule(lambda v: v >= n and v % n == 0, f"a multiple of {n} ({why})")


def one_of(choices: Iterable[str]) -> Rule:
    """The rule "is one of ``choices``" (the message lists them)."""
    choices = sorted(choices)
    return Rule(lambda v: v in choices, f"one of {choices}")


def require(config: Any, rule: Rule, *fields: str, empty_ok: bool = False) -> None:
    """Check ``rule`` on each named field of ``config``; every item of a list field must hold,
    and the list must not be empty unless ``empty_ok``.

    Raises:
        ConfigValueError: the first field that breaks ``rule`` (the message names the class,
            the field, its value and what to set).
    """
    for field in fields:
        value = getattr(config, field)
        if isinstance(value, (list, tuple)):
            bad = [item for item in value if not rule.holds(item)]
            if bad or not (value or empty_ok):
                because = f"{bad[0]!r} is not" if bad else "it is empty"
                kind = "list" if empty_ok else "non-empty list"
                fail(config, field, f"a {kind} whose items are each {rule.wants} ({because})")
        elif not rule.holds(value):
            fail(config, field, rule.wants)


def fail(config: Any, field: str, wants: str) -> None:
    """Raise the error of a bad ``field`` of ``config``; ``wants`` is what to set instead.

    Raises:
        ConfigValueError: always.
    """
    raise ConfigValueError(
        type(config).__name__, field, getattr(config, field), f"set it to {wants}"
    )
