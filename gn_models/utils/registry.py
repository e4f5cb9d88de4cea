"""A registry of classes by their ``kind`` attribute (backends, rewards, golden-noise models)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Classes keyed by ``cls.kind``, in registration order.

    Args:
        what: what the classes are, for messages ("reward").
        classes: the built-in classes.
    """

    def __init__(self, what: str, classes: Iterable[type[T]] = ()):
        self.what = what
        self._classes: dict[str, type[T]] = {}
        for cls in classes:
            self.register(cls)

    def register(self, cls: type[T]) -> type[T]:
        """Add ``cls`` under its ``kind`` (usable as a class decorator).

        Raises:
            ValueError: ``kind`` is empty or already taken by another class.
        """
        kind = getattr(cls, "kind", "")
        if not kind or self._classes.get(kind, cls) is not cls:
            raise ValueError(
                f"Cannot register {cls.__name__} as {self.what} kind {kind!r}: give it a kind "
                f"that no other {self.what} uses (taken: {sorted(self._classes)})."
            )
        self._classes[kind] = cls
        return cls

    def unregister(self, kind: str) -> None:
        """Remove ``kind`` (tests that register a toy class clean up with it)."""
        self._classes.pop(kind, None)

    def get(self, kind: str) -> type[T]:
        """The class registered as ``kind``.

        Raises:
            ValueError: an unknown kind (the message lists the known ones).
        """
        if kind not in self._classes:
            raise ValueError(f"Unknown {self.what} kind {kind!r}; known: {sorted(self._classes)}.")
        return self._classes[kind]

    def __contains__(self, kind: str) -> bool:
        return kind in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def items(self):
        return self._classes.items()

    def values(self):
        return self._classes.values()
