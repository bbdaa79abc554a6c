"""A cache keyed by an object's identity, for derived data on the hot path."""

from __future__ import annotations

from collections.abc import Callable
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
