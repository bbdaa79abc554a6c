"""Small tools for the hot path: a cache keyed by identity, and fast constructors of frozen
result dataclasses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any


class ByIdentity:
    """``get(obj, build)`` returns ``build(obj)``, computed once per object.

    For tuples of frozen dataclasses (the contract's columns, the model's factors), hashing
    them costs more than what is derived from them. The cache holds each key object, so its
    id cannot be reused while the entry lives, and is cleared when it reaches ``limit``
    entries: callers pass a few long-lived objects.
    """

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self._entries: dict[int, tuple[object, Any]] = {}

    def get(self, obj: object, build: Callable[[Any], Any]) -> Any:
        entry = self._entries.get(id(obj))
        if entry is None or entry[0] is not obj:
            if len(self._entries) >= self.limit:
                self._entries.clear()
            entry = self._entries[id(obj)] = (obj, build(obj))
        return entry[1]


def constructor(cls: type) -> Callable[..., Any]:
    """A positional constructor for the frozen dataclass ``cls``, every field given: it
    fills the instance's ``__dict__`` in one step where the generated ``__init__`` calls
    ``object.__setattr__`` once per field (a third of the time on the one-campaign path,
    which builds several). The instance is the same: a test holds them equal."""
    names = tuple(f.name for f in fields(cls))
    new = object.__new__

    def make(*values):
        obj = new(cls)
        obj.__dict__.update(zip(names, values, strict=True))
        return obj
    return make
