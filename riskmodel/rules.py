"""The contract's rules for one value, each written once.

A column's :class:`Rule` holds what a valid value is, as data taken from the contract
(bounds, categories, the words a file may use for yes and no) and as **checks**: one
expression per problem, written with operators only, so the same expression reads a float
and a float array. Everything that validates derives from it:

- :meth:`Rule.parse` reads one value of any type, the reference, with the problem of a bad
  one (:class:`Invalid`);
- :meth:`Rule.fast` is the JSON fast path: a value of the exact type JSON gives passes the
  checks fused into one expression, anything else takes :meth:`Rule.parse`;
- :meth:`Rule.parse_column` reads a whole column: text with pyarrow's compute functions,
  numbers as arrays, each check applied as a mask; a cell the vectorised reading cannot
  settle (text that is not plain ASCII, a number pyarrow cannot cast) goes to
  :meth:`Rule.parse`.

Property tests hold the three equal on messy input (tests/test_rules.py).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, cast

import numpy as np

from riskmodel.contract import Column
from riskmodel.i18n import N_

if TYPE_CHECKING:  # the column path's libraries, imported when a column is read: one
    import pandas as pd  # campaign as JSON needs neither
    import pyarrow as pa

# the words a file may write for yes and no (JSON takes only true and false)
WORDS = {**dict.fromkeys(("true", "t", "yes", "y", "1"), 1.0),
         **dict.fromkeys(("false", "f", "no", "n", "0"), 0.0)}

SLOW = object()  # what the fast path answers when the value needs the full rule

_EXACT_INT = 2**53  # integers beyond this are not exactly a float: the full rule decides

# Bounds on the work and the answer for bad input (docs/service.md, "Errors"). Validation of
# JSON records stops collecting field errors after MAX_ERRORS (it counts the rest), and an
# object with more than MAX_FIELDS keys is refused as a whole before its keys are judged:
# the contract has two dozen fields, so such an object is not a campaign with typos.
MAX_ERRORS = 20
MAX_FIELDS = 100


class Invalid(Exception):
    """A value that breaks its column's rule; ``problem`` says how."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class Check:
    """One rule a number must pass: the ``problem`` when it fails, and ``fails``, an
    expression in ``x`` (and the column's bounds ``lo``, ``hi``) that is true where ``x``
    fails; operators only, so it reads a float and a float array alike."""

    problem: str
    fails: str


def number_checks(col: Column) -> tuple[Check, ...]:
    """The checks of a number or integer column, in the order their problems are told."""
    checks = [Check(N_("must be a finite number"), "x - x != 0")]  # NaN and ±inf give NaN
    if col.kind == "integer":
        checks.append(Check(N_("must be a whole number"), "x % 1 != 0"))
    low = None if col.minimum is None else ("x <= lo" if col.exclusive_minimum else "x < lo")
    high = None if col.maximum is None else "x > hi"
    if low or high:
        checks.append(Check(N_("is out of range"), " | ".join(f"({e})" for e in (low, high) if e)))
    return tuple(checks)


def is_blank(v: object, nan_is_missing: bool) -> bool:
    """An empty value: ``None``, text of blanks, and in a file or frame ``NaN`` too (in JSON
    a ``NaN`` is a value, and an error)."""
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip() == ""
    if nan_is_missing and isinstance(v, float) and math.isnan(v):
        return True
    pd = sys.modules.get("pandas")  # pandas' own blanks exist only once it is loaded
    return pd is not None and (v is pd.NA or v is pd.NaT)


def valid_identifier(v: str, limit: int) -> bool:
    """The identifier rule: 1 to ``limit`` characters, every one printable."""
    return 0 < len(v) <= limit and v.isprintable()


def parse_date(v: object) -> date:
    """An ISO 8601 date (a date-time gives its date)."""
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    if not isinstance(v, str):
        raise Invalid(N_("is not a date"))
    try:
        return datetime.fromisoformat(v.strip()).date()
    except ValueError:
        raise Invalid(N_("is not a date")) from None


# what JSON must send for each kind (strict bodies): the problem if it sends another type
_JSON_TYPE = {"number": N_("must be a JSON number"), "integer": N_("must be a JSON number"),
              "boolean": N_("must be true or false"), "category": N_("must be a JSON string"),
              "string": N_("must be a JSON string"), "date": N_("must be a JSON string")}
_EMPTY = {"category": -1, "string": None, "date": None}
# None as a value of np.where: numpy's stubs read a bare None there as the one-argument form
_NONE = np.array(None, dtype=object)
_DTYPE = {"category": np.int16, "string": object, "date": object}


class Rule:
    """The rule of one column (see the module docstring)."""

    def __init__(self, col: Column) -> None:
        self.column = col
        self.name, self.kind, self.required = col.name, col.kind, col.required
        self.empty = _EMPTY.get(col.kind, math.nan)  # the value of an empty cell
        self.dtype = _DTYPE.get(col.kind, np.float64)
        self.limit = col.max_length or 10**9
        self.index = {c: i for i, c in enumerate(col.categories)}
        self.checks = number_checks(col) if col.kind in ("number", "integer") else ()
        scope = {"lo": col.minimum, "hi": col.maximum}
        self._tests = [(c.problem, eval(f"lambda x: {c.fails}", scope))  # noqa: S307
                       for c in self.checks]
        self.fast = self._fast_parser()

    # ------------------------------------------------------------------ one value

    def problem(self, x: float) -> str | None:
        """The first check the number ``x`` fails, or None."""
        for problem, fails in self._tests:
            if fails(x):
                return problem
        return None

    def parse(self, v: object, strict: bool = False) -> object:
        """One non-empty value as its typed value (float, category code, text, date), or
        :class:`Invalid`. ``strict`` (JSON bodies) takes JSON's types only: no numbers in
        text, no 0 and 1 for booleans."""
        kind = self.kind
        if strict:
            self._check_json_type(v)
        if kind in ("number", "integer"):
            if isinstance(v, (bool, np.bool_)):
                raise Invalid(N_("must be a number, not a boolean"))
            if isinstance(v, str):
                try:
                    x = float(v.strip())
                except ValueError:
                    raise Invalid(N_("is not a number")) from None
            elif isinstance(v, (int, float, np.integer, np.floating)):
                try:
                    x = float(v)
                except OverflowError:  # an integer beyond any float (JSON allows it)
                    raise Invalid(N_("is out of range")) from None
            else:
                raise Invalid(N_("is not a number"))
            problem = self.problem(x)
            if problem:
                raise Invalid(problem)
            return x
        if kind == "boolean":
            if isinstance(v, (bool, np.bool_)):
                return 1.0 if v else 0.0
            if isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1):
                return float(v)
            if isinstance(v, str) and v.strip().lower() in WORDS:
                return WORDS[v.strip().lower()]
            raise Invalid(N_("is not a boolean"))
        if kind == "category":
            if isinstance(v, str) and v.strip() in self.index:
                return self.index[v.strip()]
            raise Invalid(N_("is not an allowed value"))
        if kind == "string":
            if not isinstance(v, str):
                raise Invalid(N_("must be a string"))
            if not valid_identifier(v, self.limit):
                raise Invalid(N_("is not a valid identifier"))
            return v
        if kind == "date":
            return parse_date(v)
        raise AssertionError(kind)  # pragma: no cover

    def _check_json_type(self, v: object) -> None:
        kind = self.kind
        if kind in ("number", "integer"):
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        elif kind == "boolean":
            ok = isinstance(v, bool)
        else:
            ok = isinstance(v, str)
        if not ok:
            raise Invalid(_JSON_TYPE[kind])

    def _fast_parser(self) -> Callable[[object], object]:
        """The JSON fast path: the exact types JSON gives (float, int, True/False, text),
        checked by this rule's own tests; :data:`SLOW` for anything else, which then takes
        :meth:`parse` for its full reading and its error."""
        kind = self.kind
        if kind in ("number", "integer"):
            # one generated function: the type test, then every check fused into one test
            fails = " | ".join(f"({c.fails})" for c in self.checks)
            scope = {"lo": self.column.minimum, "hi": self.column.maximum, "SLOW": SLOW,
                     "EXACT": _EXACT_INT}
            exec("def number(v):\n"  # noqa: S102  generated from this rule's checks
                 "    if v.__class__ is float:\n"
                 "        x = v\n"
                 "    elif v.__class__ is int and -EXACT <= v <= EXACT:\n"
                 "        x = float(v)\n"
                 "    else:\n"
                 "        return SLOW\n"
                 f"    return SLOW if {fails} else x\n", scope)
            # exec's scope holds what it defined untyped: this rule's fast path, as above
            return cast(Callable[[object], object], scope["number"])
        if kind == "boolean":
            return lambda v: 1.0 if v is True else 0.0 if v is False else SLOW
        if kind == "category":
            index = self.index
            return lambda v: index.get(v, SLOW) if v.__class__ is str else SLOW
        if kind == "string":
            limit = self.limit

            def identifier(v):
                if v.__class__ is str and valid_identifier(v, limit) and not v.isspace():
                    return v  # (all blanks is an empty value, for parse to tell)
                return SLOW
            return identifier
        return lambda v: SLOW

    # ------------------------------------------------------------------ a column

    def parse_column(self, s: pd.Series) -> tuple[np.ndarray, Problems]:
        """Every cell of a column read from a file or a frame (an empty cell, ``NaN``
        included, is unknown): the typed values and the problem of each bad cell."""
        problems = Problems(len(s))
        text, numbers = _classify(s)
        if text is not None:
            values, blank = self._read_text(text, problems)
        elif numbers is not None:
            values, blank = self._read_array(numbers, s, problems)
        else:  # Python objects of several types: the rule, value by value
            values, blank = self._read_values(s.tolist(), problems)
        if self.checks:
            with np.errstate(invalid="ignore", over="ignore"):
                for problem, fails in self._tests:
                    problems[~blank & ~problems.bad & np.asarray(fails(values))] = problem
            values = np.where(blank | problems.bad, np.nan, values)
        if self.required:
            problems[blank] = "is required"
        return values, problems

    def _read_text(self, text: pa.Array, problems: Problems) -> tuple[np.ndarray, np.ndarray]:
        import pyarrow as pa
        import pyarrow.compute as pc

        trimmed = pc.utf8_trim_whitespace(text)
        blank = pc.fill_null(pc.equal(trimmed, ""), True).to_numpy(zero_copy_only=False)
        kind = self.kind
        if kind in ("number", "integer"):
            nulled = pc.if_else(pa.array(blank), pa.scalar(None, trimmed.type), trimmed)
            try:
                values = pc.cast(nulled, pa.float64()).to_numpy(zero_copy_only=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # some cell is no number
                values = self._each_distinct(trimmed, blank, problems)
            return values, blank
        if kind == "boolean":
            words = pa.array(list(WORDS))
            at = pc.fill_null(pc.index_in(pc.utf8_lower(trimmed), value_set=words), -1)
            table = np.array([*WORDS.values(), np.nan])  # [-1]: not a word
            values = table[at.to_numpy(zero_copy_only=False)]
            problems[~blank & np.isnan(values)] = "is not a boolean"
            return np.where(blank | problems.bad, np.nan, values), blank
        if kind == "category":
            codes = pc.fill_null(pc.index_in(trimmed, value_set=pa.array(
                self.column.categories)), -1).to_numpy(zero_copy_only=False)
            problems[~blank & (codes < 0)] = "is not an allowed value"
            return np.where(blank | problems.bad, -1, codes).astype(np.int16), blank
        if kind == "string":
            raw = text.to_numpy(zero_copy_only=False)
            lengths = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
            # printable ASCII within the limit passes the identifier rule; the rest asks it
            unsure = pc.fill_null(pc.match_substring_regex(text, r"[^\x20-\x7e]"),
                                  False).to_numpy(zero_copy_only=False) | (lengths > self.limit)
            for i in np.flatnonzero(unsure & ~blank).tolist():
                if not valid_identifier(raw[i], self.limit):
                    problems.set(i, "is not a valid identifier")
            return np.where(blank | problems.bad, _NONE, raw), blank
        return self._each_distinct(text, blank, problems), blank  # dates

    def _each_distinct(self, text: pa.Array, blank: np.ndarray, problems: Problems
                       ) -> np.ndarray:
        """The cells read one distinct text at a time with the rule (``parse``)."""
        cells = text.to_numpy(zero_copy_only=False)
        uniq, inverse = np.unique(np.where(blank, "", cells).astype(str), return_inverse=True)
        out = np.full(len(uniq), self.empty, dtype=self.dtype)
        failed: dict[int, str] = {}
        for u, cell in enumerate(uniq.tolist()):
            if cell.strip():
                try:
                    out[u] = self.parse(cell)
                except Invalid as bad:
                    failed[u] = bad.problem
        values = out[inverse.reshape(-1)]
        for u, problem in failed.items():
            problems[~blank & (inverse.reshape(-1) == u)] = problem
        return values

    def _read_array(self, numbers: np.ndarray, s: pd.Series, problems: Problems
                    ) -> tuple[np.ndarray, np.ndarray]:
        from pandas.api.types import is_bool_dtype

        blank = np.isnan(numbers)
        is_bool = is_bool_dtype(s.dtype)
        kind = self.kind
        if kind in ("number", "integer"):
            if is_bool:
                problems[~blank] = "must be a number, not a boolean"
            return numbers, blank
        if kind == "boolean":
            problems[~blank & ~np.isin(numbers, (0.0, 1.0))] = "is not a boolean"
            return np.where(blank | problems.bad, np.nan, numbers), blank
        # numbers where text is expected: the rule says why, value by value
        values, _ = self._read_values(s.tolist(), problems)
        return values, blank

    def _read_values(self, cells: list, problems: Problems) -> tuple[np.ndarray, np.ndarray]:
        values = np.empty(len(cells), dtype=self.dtype)
        blank = np.zeros(len(cells), dtype=bool)
        for i, v in enumerate(cells):
            if is_blank(v, nan_is_missing=True):
                blank[i] = True
                values[i] = self.empty
                continue
            try:
                values[i] = self.parse(v)
            except Invalid as bad:
                values[i] = self.empty
                problems.set(i, bad.problem)
        return values, blank


def _classify(s: pd.Series) -> tuple[pa.Array | None, np.ndarray | None]:
    """A column as text (an arrow string array), as numbers (floats, NaN for empty;
    booleans 0/1), or neither (Python objects of several types)."""
    import pandas as pd
    import pyarrow as pa

    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return None, s.to_numpy(dtype=float, na_value=np.nan)
    try:
        arr = pa.array(s, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return None, None
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr, None
    if pa.types.is_null(arr.type):  # every cell empty
        return pa.array([None] * len(s), type=pa.string()), None
    return None, None  # Python numbers or mixed objects: value by value, as given


class Problems:
    """What is wrong with each cell of a column: a mask of bad cells, and the problem of
    each, kept only once some cell is bad (most columns have none)."""

    def __init__(self, n: int) -> None:
        self.bad = np.zeros(n, dtype=bool)
        self._messages: np.ndarray | None = None

    def __setitem__(self, rows: np.ndarray, message: str) -> None:
        if not rows.any():
            return
        if self._messages is None:
            self._messages = np.full(len(self.bad), "", dtype=object)
        self._messages[rows] = message
        self.bad |= rows

    def set(self, i: int, message: str) -> None:
        if self._messages is None:
            self._messages = np.full(len(self.bad), "", dtype=object)
        self._messages[i] = message
        self.bad[i] = True

    def __getitem__(self, i: int) -> str:
        """The problem of cell ``i`` ("" for a good cell)."""
        return "" if self._messages is None else self._messages[i]
