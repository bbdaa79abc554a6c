"""Typed exceptions. Each refines a builtin and carries the data of its message."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass

# At most this many characters of a value received (or of a name the contract does not
# know) are repeated in an error: a reply about bad input stays small whatever was sent.
MAX_SHOWN = 64

_REPR = reprlib.Repr()  # a bounded repr of a nested value (keywords need Python 3.12)
_REPR.maxlevel = 2
_REPR.maxtuple = _REPR.maxlist = _REPR.maxarray = _REPR.maxdict = _REPR.maxset = 4
_REPR.maxfrozenset = _REPR.maxdeque = 4
_REPR.maxstring = _REPR.maxlong = _REPR.maxother = MAX_SHOWN


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """``text``, cut after ``limit`` characters and marked with an ellipsis if longer; a
    lone surrogate (JSON may spell one, ``"\\ud800"``) as its escape, so that the text
    can be written as UTF-8."""
    if len(text) > limit:
        text = text[:limit] + "…"
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode()
    return text


def _shown(value: object) -> str:
    """How a message writes a received value: its repr, long text cut and said so."""
    if isinstance(value, str):
        if len(value) <= MAX_SHOWN:
            return repr(value)
        return f"{value[:MAX_SHOWN]!r}… ({len(value):,} characters, the first {MAX_SHOWN} shown)"
    return _REPR.repr(value)


class RiskModelError(Exception):
    """Base class of every error this package raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one value: which row (1-based, ``None`` for the whole input), which
    column, what was allowed and what was received.

    Its message and :meth:`to_dict` repeat at most :data:`MAX_SHOWN` characters of the
    value received (and of the column's name): longer text is cut and marked."""

    row: int | None
    column: str
    problem: str
    allowed: str
    received: object = None

    @property
    def message(self) -> str:
        where = f" (row {self.row})" if self.row is not None else ""
        got = "" if self.received is None else f" Got {_shown(self.received)} instead."
        return f"{shorten(self.column)} {self.problem}{where}: expected {self.allowed}.{got}"

    def message_in(self, locale: str) -> str:
        """:attr:`message` in ``locale`` (see riskmodel.LOCALES; English otherwise)."""
        if locale == "en":
            return self.message
        from riskmodel.i18n import field_message

        return field_message(self, locale)

    def to_dict(self, locale: str = "en") -> dict:
        """The error as JSON-ready data: ``message`` in ``locale``; the other fields never
        change with the language (programs read them). ``received_length`` (characters) is
        there only when the text received was longer than :data:`MAX_SHOWN` and cut."""
        out = {"row": self.row, "column": shorten(self.column), "problem": self.problem,
               "allowed": self.allowed, "received": _jsonable(self.received),
               "message": self.message_in(locale)}
        if isinstance(self.received, str) and len(self.received) > MAX_SHOWN:
            out["received_length"] = len(self.received)
        return out


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return shorten(value)
    if isinstance(value, int):
        return value if -10**MAX_SHOWN < value < 10**MAX_SHOWN else _REPR.repr(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return _REPR.repr(value)  # bounded: never the text of a whole nested value
    return shorten(str(value))


class SchemaError(RiskModelError, ValueError):
    """Input that breaks the data contract. ``errors`` lists every problem found."""

    def __init__(self, errors: list[FieldError], *, limit: int = 20, more: int = 0) -> None:
        """``more``: how many problems were found beyond those in ``errors`` (validation
        that stops collecting after :data:`riskmodel.MAX_ERRORS` counts the rest)."""
        self.errors = list(errors)
        self.more = more
        shown = "\n".join("  - " + e.message for e in self.errors[:limit])
        rest = len(self.errors) + more - min(limit, len(self.errors))
        tail = f"\n  ... and {rest} more" if rest > 0 else ""
        noun = "problem" if self.total == 1 else "problems"
        super().__init__(f"{self.total} input {noun}:\n{shown}{tail}")

    @property
    def total(self) -> int:
        """Every problem found, listed or not."""
        return len(self.errors) + self.more


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


# The store's errors live here, not in riskmodel.store, so that what answers them (the
# service's problems, its prediction log) does not import SQLAlchemy.

class OutcomeConflict(RiskModelError, ValueError):
    """An outcome that contradicts one already recorded (send it as a correction)."""

    def __init__(self, conflicts: list[dict]) -> None:
        self.conflicts = conflicts
        ids = ", ".join(c["campaign_id"] for c in conflicts[:5])
        super().__init__(f"{len(conflicts)} outcome(s) differ from the recorded ones "
                         f"({ids}); send them with \"correction\": true to replace")


class UnknownCampaign(RiskModelError, ValueError):
    """An outcome sent without its plan for a campaign never scored before it was
    completed (no plan was logged before its completion date)."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        super().__init__(f"{len(ids)} outcome(s) for campaigns never scored before they were "
                         f"completed, sent without their plan: {', '.join(ids[:5])}; attach "
                         f"the plan as \"plan\"")


class StoreUnavailable(RiskModelError, OSError):
    """The store cannot take writes now: its file vanished, was replaced by another or is
    read-only, or the database cannot be reached. ``location`` is the file (or the URL
    without its password), ``reason`` what is wrong."""

    _message = "the store {location} is unavailable: {reason}"

    def __init__(self, location: str, reason: str) -> None:
        self.location, self.reason = location, reason
        super().__init__(self._message.format(location=location, reason=reason))


class StoreMissing(StoreUnavailable, FileNotFoundError):
    """A store that does not exist where it was looked for, opened with ``create=False``."""

    _message = "no store at {location}: {reason}"
