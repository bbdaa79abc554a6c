"""Typed exceptions. Each refines a builtin and carries the data of its message."""

from __future__ import annotations

from dataclasses import dataclass


class RiskModelError(Exception):
    """Base class of every error this package raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one value: which row (1-based, ``None`` for the whole input), which
    column, what was allowed and what was received."""

    row: int | None
    column: str
    problem: str
    allowed: str
    received: object = None

    @property
    def message(self) -> str:
        where = f" (row {self.row})" if self.row is not None else ""
        got = "" if self.received is None else f" Got {self.received!r} instead."
        return f"{self.column} {self.problem}{where}: expected {self.allowed}.{got}"

    def message_in(self, locale: str) -> str:
        """:attr:`message` in ``locale`` (see riskmodel.LOCALES; English otherwise)."""
        if locale == "en":
            return self.message
        from riskmodel.i18n import field_message

        return field_message(self, locale)

    def to_dict(self, locale: str = "en") -> dict:
        """The error as JSON: ``message`` in ``locale``; the other fields never change with
        the language (programs read them)."""
        return {"row": self.row, "column": self.column, "problem": self.problem,
                "allowed": self.allowed, "received": _jsonable(self.received),
                "message": self.message_in(locale)}


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    return str(value)


class SchemaError(RiskModelError, ValueError):
    """Input that breaks the data contract. ``errors`` lists every problem found."""

    def __init__(self, errors: list[FieldError], *, limit: int = 20) -> None:
        self.errors = list(errors)
        shown = "\n".join("  - " + e.message for e in self.errors[:limit])
        more = len(self.errors) - limit
        tail = f"\n  ... and {more} more" if more > 0 else ""
        noun = "problem" if len(self.errors) == 1 else "problems"
        super().__init__(f"{len(self.errors)} input {noun}:\n{shown}{tail}")


class DataError(RiskModelError, ValueError):
    """A training set that cannot be learnt from (empty, one class, too few rows)."""


class ArtifactError(RiskModelError, RuntimeError):
    """A model artifact that is missing, tampered with or built for other libraries."""


class ParameterError(RiskModelError, ValueError):
    """An argument with a value that cannot be used (``top_k`` out of range...). ``error``
    says which, what was allowed and what was received."""

    def __init__(self, error: FieldError) -> None:
        self.error = error
        super().__init__(error.message)
