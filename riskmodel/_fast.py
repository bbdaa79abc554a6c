"""Small tools for the hot path: a cache keyed by identity, and fast constructors of frozen
result dataclasses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


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


def constructor(cls: type[T]) -> Callable[..., T]:
    """A positional constructor for the frozen dataclass ``cls``, every field given.

    The generated ``__init__`` of a frozen dataclass sets each field through
    ``object.__setattr__``, several microseconds for a result of eleven fields; this one
    (generated the same way, from the class's fields) builds the instance's ``__dict__``
    as one dict display and sets it once. The instance is the same: a test holds them
    equal. For the hot path, which builds several results per campaign."""
    names = [f.name for f in fields(cls)]
    params = ", ".join(f"_{i}" for i in range(len(names)))
    members = ", ".join(f"{name!r}: _{i}" for i, name in enumerate(names))
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls,
                             "set_attribute": object.__setattr__}
    exec(f"def make({params}):\n"  # noqa: S102  generated from the dataclass's own fields
         f"    obj = new(cls)\n"
         f"    set_attribute(obj, '__dict__', {{{members}}})\n"
         f"    return obj\n", scope)
    # exec's scope holds what it defined untyped; the function built above takes one
    # value per field and returns an instance of cls
    make = cast(Callable[..., T], scope["make"])
    make.__qualname__ = f"constructor({cls.__name__})"
    return make
