"""Turn a file, a DataFrame or JSON records into typed columns, or a list of errors.

The rules live here once and are applied by two paths with identical results: a per-value
path for a handful of records (the service's hot path, microseconds) and a per-column path
for files and frames (millions of rows). A property test holds them equal.

Typed columns (:class:`CampaignBatch`) are numpy arrays: numbers, integers and booleans as
``float64`` with ``NaN`` for empty (booleans as 0.0/1.0); categories as ``int16`` codes into the
column's ``categories`` with ``-1`` for empty; strings and dates as ``object`` arrays.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from riskmodel._memo import ByIdentity
from riskmodel.campaigns import CampaignBatch
from riskmodel.contract import FAILURE_REASONS, SCHEMA, Column, Schema
from riskmodel.errors import FieldError, SchemaError

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_BOOL_WORDS = {**{w: 1.0 for w in _TRUE}, **{w: 0.0 for w in _FALSE}}
SMALL = 64  # inputs up to this many rows take the per-value path


@dataclass
class Validated:
    """The outcome of validation: typed columns for every row, the errors, which rows are
    valid, and which input columns were ignored because the contract does not have them."""

    batch: CampaignBatch
    errors: list[FieldError]
    valid: np.ndarray
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return self.batch.n

    @property
    def n_invalid(self) -> int:
        return int((~self.valid).sum())

    def valid_batch(self) -> CampaignBatch:
        return self.batch.take(self.valid)

    def raise_for_errors(self) -> None:
        if self.errors:
            raise SchemaError(self.errors)


# --------------------------------------------------------------------------- per value


class _Bad(Exception):
    def __init__(self, problem: str) -> None:
        self.problem = problem


def _is_blank(v: object, nan_is_missing: bool) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip() == ""
    if nan_is_missing and isinstance(v, float) and math.isnan(v):
        return True
    return v is pd.NA or v is pd.NaT


def _parse_value(col: Column, v: object, strict: bool = False) -> object:
    """Parse one non-empty value; raise :class:`_Bad` with the problem. ``strict`` (JSON
    bodies) takes JSON types only: no numbers in strings, no 0/1 for booleans."""
    kind = col.kind
    if strict:
        _check_json_type(kind, v)
    if kind in ("number", "integer"):
        if isinstance(v, (bool, np.bool_)):
            raise _Bad("must be a number, not a boolean")
        if isinstance(v, str):
            try:
                x = float(v.strip())
            except ValueError:
                raise _Bad("is not a number") from None
        elif isinstance(v, (int, float, np.integer, np.floating)):
            try:
                x = float(v)
            except OverflowError:  # an integer beyond any float (JSON allows it)
                raise _Bad("is out of range") from None
        else:
            raise _Bad("is not a number")
        if not math.isfinite(x):
            raise _Bad("must be a finite number")
        if kind == "integer" and not x.is_integer():
            raise _Bad("must be a whole number")
        if not _in_range(col, x):
            raise _Bad("is out of range")
        return x
    if kind == "boolean":
        if isinstance(v, (bool, np.bool_)):
            return 1.0 if v else 0.0
        if isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1):
            return float(v)
        if isinstance(v, str):
            b = _BOOL_WORDS.get(v.strip().lower())
            if b is not None:
                return b
        raise _Bad("is not a boolean")
    if kind == "category":
        if isinstance(v, str):
            try:
                return col.categories.index(v.strip())
            except ValueError:
                pass
        raise _Bad("is not an allowed value")
    if kind == "string":
        if not isinstance(v, str):
            raise _Bad("must be a string")
        if not (0 < len(v) <= (col.max_length or 10**9)) or not v.isprintable():
            raise _Bad("is not a valid identifier")
        return v
    if kind == "date":
        try:
            return pd.Timestamp(v) if not isinstance(v, pd.Timestamp) else v
        except (ValueError, TypeError):
            raise _Bad("is not a date") from None
    raise AssertionError(kind)  # pragma: no cover


def _check_json_type(kind: str, v: object) -> None:
    if kind in ("number", "integer"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _Bad("must be a JSON number")
    elif kind == "boolean":
        if not isinstance(v, bool):
            raise _Bad("must be true or false")
    elif kind in ("category", "string", "date") and not isinstance(v, str):
        raise _Bad("must be a JSON string")


def _in_range(col: Column, x: float) -> bool:
    if col.minimum is not None:
        if x < col.minimum or (col.exclusive_minimum and x == col.minimum):
            return False
    return col.maximum is None or x <= col.maximum


def _empty_array(col: Column, n: int) -> np.ndarray:
    if col.kind == "category":
        return np.full(n, -1, dtype=np.int16)
    if col.kind in ("string", "date"):
        return np.full(n, None, dtype=object)
    return np.full(n, np.nan)


_DEFAULT = {"category": -1, "string": None, "date": None}
_DTYPE = {"category": np.int16, "string": object, "date": object}
_PLANS = ByIdentity()


def _plan(cols: Sequence[Column]) -> list:
    """Per column: name, required, default, the column and its fast parser (cached per
    column set, by identity: hashing two dozen columns would cost more than the plan)."""
    return _PLANS.get(cols, lambda cols: [
        (c.name, c.required, _DEFAULT.get(c.kind, math.nan), c, _fast_parser(c))
        for c in cols])


def _fast_parser(col: Column):
    """A parser for the values a JSON client usually sends in ``col`` (exact float or int,
    True or False, a listed category, a clean identifier), giving what
    :func:`_parse_value` gives them; ``_SLOW`` for anything else, which then takes
    :func:`_parse_value` for its full checks and its error."""
    kind = col.kind
    if kind in ("number", "integer"):
        big = sys.float_info.max  # so the bounds also refuse an infinity
        lo = -big if col.minimum is None else col.minimum
        hi = big if col.maximum is None else col.maximum
        open_lo = bool(col.exclusive_minimum)
        whole = kind == "integer"

        def number(v):
            if v.__class__ is float or (v.__class__ is int and -2**53 <= v <= 2**53):
                x = float(v)
                if lo < x <= hi or (x == lo and not open_lo):
                    if not whole or x.is_integer():
                        return x
            return _SLOW
        return number
    if kind == "boolean":
        return lambda v: 1.0 if v is True else 0.0 if v is False else _SLOW
    if kind == "category":
        index = {c: i for i, c in enumerate(col.categories)}
        return lambda v: index.get(v, _SLOW) if v.__class__ is str else _SLOW
    if kind == "string":
        limit = col.max_length or 10**9

        def identifier(v):
            if v.__class__ is str and 0 < len(v) <= limit and v.isprintable() \
                    and not v.isspace():  # all blanks is a missing value
                return v
            return _SLOW
        return identifier
    return lambda v: _SLOW


_SLOW = object()


def parse_record(rec: object, cols: Sequence[Column], present: set[str] | None,
                 nan_is_missing: bool, row: int,
                 strict: bool = False) -> tuple[dict, list[FieldError]]:
    """Typed plain values (floats with NaN for empty, category codes, strings) for every
    column of ``cols`` from one record, and its errors. Columns not in ``present`` are
    empty without error; ``present=None`` means a missing key is an empty value."""
    out: dict = {}
    errors: list[FieldError] = []
    if not isinstance(rec, Mapping):
        errors.append(FieldError(row, "(record)", "is not an object",
                                 "an object of column: value pairs", type(rec).__name__))
        return {name: default for name, _, default, _, _ in _plan(cols)}, errors
    for name, required, default, col, fast in _plan(cols):
        if present is not None and name not in present:
            out[name] = default
            continue
        v = rec.get(name)
        if v is not None:
            x = fast(v)
            if x is not _SLOW:
                out[name] = x
                continue
        if _is_blank(v, nan_is_missing):
            out[name] = default
            if required:
                errors.append(FieldError(row, name, "is required", col.allowed(),
                                         None if v is None else v))
            continue
        try:
            out[name] = _parse_value(col, v, strict)
        except _Bad as bad:
            out[name] = default
            errors.append(FieldError(row, name, bad.problem, col.allowed(), v))
    return out, errors


def validate_record(rec: Mapping, *, strict: bool = False,
                    schema: Schema = SCHEMA) -> tuple[dict, list[FieldError]]:
    """One campaign as plain typed values by column, and every error (row 1)."""
    return parse_record(rec, schema.columns, None, False, 1, strict)


_OUTCOME_COLUMNS = (SCHEMA["campaign_id"],) + SCHEMA.outcome_columns
_OUTCOME_FIELDS = {c.name for c in _OUTCOME_COLUMNS} | {"correction", "plan"}


def parse_outcome(item: object, row: int,
                  strict: bool = True) -> tuple[dict | None, list[FieldError]]:
    """One outcome from JSON (``campaign_id``, ``failed``, ``failure_reason``,
    ``completed_on``, ``correction``, ``plan``): plain fields ready for the store, or every
    error with its row. ``strict`` takes JSON types only (the API); files pass text."""
    values, errors = parse_record(item, _OUTCOME_COLUMNS, None, False, row, strict=strict)
    if not isinstance(item, Mapping):
        return None, errors
    for key in item:
        if key not in _OUTCOME_FIELDS:
            errors.append(FieldError(row, str(key), "is not a field of an outcome",
                                     "one of " + ", ".join(sorted(_OUTCOME_FIELDS)), None))
    correction = item.get("correction", False)
    if not isinstance(correction, bool):
        errors.append(FieldError(row, "correction", "must be true or false",
                                 "true or false", correction))
    reason = values.get("failure_reason")
    reason = None if reason is None or reason < 0 else FAILURE_REASONS[reason]
    if values.get("failed") == 0.0 and reason is not None:
        errors.append(FieldError(row, "failure_reason", "must be empty for a success",
                                 "empty when failed is false", reason))
    plan = item.get("plan")
    if plan is not None:
        if not isinstance(plan, Mapping):
            errors.append(FieldError(row, "plan", "is not an object", "a campaign object",
                                     type(plan).__name__))
        else:
            _, plan_errors = validate_record(plan, strict=strict)
            errors += [FieldError(row, f"plan/{e.column}", e.problem, e.allowed, e.received)
                       for e in plan_errors]
            if plan.get("campaign_id") not in (None, item.get("campaign_id")):
                errors.append(FieldError(row, "plan/campaign_id", "differs from the outcome's",
                                         str(item.get("campaign_id")), plan.get("campaign_id")))
    if errors:
        return None, errors
    completed = values.get("completed_on")
    out = {"campaign_id": values["campaign_id"], "failed": bool(values["failed"]),
           "failure_reason": reason,
           "completed_on": None if completed is None else completed.date().isoformat(),
           "correction": correction}
    if plan is not None:
        out["plan"] = dict(plan, campaign_id=values["campaign_id"])
    return out, []


def _validate_records(records: Sequence[Mapping], cols: Sequence[Column],
                      present: set[str] | None, nan_is_missing: bool,
                      strict: bool = False) -> tuple[dict, list]:
    rows, errors = [], []
    for i, rec in enumerate(records):
        row, errs = parse_record(rec, cols, present, nan_is_missing, i + 1, strict)
        rows.append(row)
        errors += errs
    out = {}
    for col in cols:
        dtype = _DTYPE.get(col.kind, np.float64)
        values = [r[col.name] for r in rows]
        if dtype is object:
            arr = np.empty(len(rows), dtype=object)
            arr[:] = values
        else:
            arr = np.array(values, dtype=dtype)
        out[col.name] = arr
    return out, errors


# --------------------------------------------------------------------------- per column


def _blank_mask(s: pd.Series) -> np.ndarray:
    blank = s.isna().to_numpy().copy()
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        strs = s.astype("string").str.strip()
        blank |= (strs == "").fillna(False).to_numpy(dtype=bool)
    return blank


def _arrow_text(s: pd.Series):
    """The pyarrow array behind a text column read from CSV, trimmed, and its blank mask;
    ``(None, None)`` for any other column."""
    if not (isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"):
        return None, None
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(pa.array(s))
    blank = pc.fill_null(pc.equal(trimmed, ""), True)
    return trimmed, blank.to_numpy(zero_copy_only=False)


def _arrow_floats(trimmed, blank: np.ndarray) -> np.ndarray | None:
    """Every non-blank cell cast to float in C (NaN for blanks); ``None`` if some cell is
    not a number, so the caller's slower path can say which and why."""
    import pyarrow.compute as pc

    nulled = pc.if_else(pa.array(blank), pa.scalar(None, trimmed.type), trimmed)
    try:
        return pc.cast(nulled, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


class _Problems:
    """What is wrong with each row of a column: a mask of bad rows, and the message of
    each, kept only once some row is bad (most columns have none)."""

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

    def __getitem__(self, i: int) -> str:
        return self._messages[i]


_WORDS = pa.array(_TRUE + _FALSE)
_WORD_VALUES = np.array([1.0] * len(_TRUE) + [0.0] * len(_FALSE) + [np.nan])


def _validate_column(col: Column, s: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return (values, bad mask, problem per bad row) for one column."""
    n = len(s)
    kind = col.kind
    # text read from CSV by pyarrow is checked in C where the cells allow it; the pandas
    # path below stays the reference for everything else and for locating bad cells
    trimmed, blank = _arrow_text(s)
    if blank is None:
        blank = _blank_mask(s)
    problems = _Problems(n)
    fast = None if trimmed is None or kind not in ("number", "integer") \
        else _arrow_floats(trimmed, blank)
    if fast is not None:
        values = fast
        problems[~blank & np.isnan(values)] = "must be a finite number"  # "nan" text
    if kind in ("number", "integer"):
        if fast is not None:
            pass
        elif pd.api.types.is_bool_dtype(s.dtype):
            values = np.full(n, np.nan)
            problems[~blank] = "must be a number, not a boolean"
        elif pd.api.types.is_numeric_dtype(s.dtype):
            values = s.to_numpy(dtype=float, na_value=np.nan)
        else:
            stripped = s.astype("string").str.strip()
            try:  # every cell a number or blank: one vectorised cast
                values = stripped.where(~blank, None).astype("float64").to_numpy(
                    dtype=float, na_value=np.nan)
                problems[~blank & np.isnan(values)] = "must be a finite number"  # "nan"
            except (ValueError, TypeError):  # some text: find which cells, and why
                parsed = pd.to_numeric(stripped, errors="coerce")
                values = parsed.to_numpy(dtype=float, na_value=np.nan)
                problems[~blank & np.isnan(values)] = "is not a number"
                lower = stripped.str.lower().fillna("")
                nonfinite_word = lower.isin(["nan", "+nan", "-nan", "inf", "+inf", "-inf",
                                             "infinity", "+infinity", "-infinity"]).to_numpy()
                problems[~blank & nonfinite_word] = "must be a finite number"
        with np.errstate(invalid="ignore"):
            problems[~blank & np.isinf(values)] = "must be a finite number"
            ok = ~blank & np.isfinite(values)
            if kind == "integer":
                problems[ok & (values != np.round(values))] = "must be a whole number"
            lo = col.minimum if col.minimum is not None else -np.inf
            hi = col.maximum if col.maximum is not None else np.inf
            out = (values < lo) | (values > hi)
            if col.exclusive_minimum:
                out |= values == lo
            problems[ok & out & ~problems.bad] = "is out of range"
        values = np.where(blank, np.nan, values)
    elif kind == "boolean":
        if pd.api.types.is_bool_dtype(s.dtype):
            values = s.to_numpy(dtype=float, na_value=np.nan)
        elif pd.api.types.is_numeric_dtype(s.dtype):
            values = s.to_numpy(dtype=float, na_value=np.nan)
            problems[~blank & ~np.isin(values, (0.0, 1.0))] = "is not a boolean"
        elif trimmed is not None:
            import pyarrow.compute as pc

            at = pc.fill_null(pc.index_in(pc.utf8_lower(trimmed), value_set=_WORDS), -1)
            values = _WORD_VALUES[at.to_numpy(zero_copy_only=False)]  # -1: the NaN at the end
            problems[~blank & np.isnan(values)] = "is not a boolean"
        else:
            words = s.astype("string").str.strip().str.lower()
            values = np.full(n, np.nan)
            values[words.isin(_TRUE).to_numpy(dtype=bool, na_value=False)] = 1.0
            values[words.isin(_FALSE).to_numpy(dtype=bool, na_value=False)] = 0.0
            problems[~blank & np.isnan(values)] = "is not a boolean"
        values = np.where(blank | problems.bad, np.nan, values)
    elif kind == "category":
        if trimmed is not None:
            import pyarrow.compute as pc

            codes = pc.fill_null(pc.index_in(trimmed, value_set=pa.array(col.categories)),
                                 -1).to_numpy(zero_copy_only=False).astype(float)
        else:
            codes = pd.Index(col.categories).get_indexer(
                s.astype("string").str.strip()).astype(float)
        non_str = np.zeros(n, dtype=bool)
        if s.dtype == object:
            non_str = ~s.map(lambda v: isinstance(v, str) or v is None or v is pd.NA
                             or (isinstance(v, float) and math.isnan(v))).to_numpy(dtype=bool)
        problems[~blank & (np.isnan(codes) | (codes < 0) | non_str)] = "is not an allowed value"
        values = np.where(blank | problems.bad, -1, np.nan_to_num(codes, nan=-1))
        values = values.astype(np.int16)
    elif kind == "string" and trimmed is not None:
        import pyarrow.compute as pc

        raw = pa.array(s)
        values = s.to_numpy(dtype=object)
        lengths = pc.fill_null(pc.utf8_length(raw), 0).to_numpy(zero_copy_only=False)
        odd = pc.fill_null(pc.match_substring_regex(raw, r"[^\x20-\x7e]"), False) \
            .to_numpy(zero_copy_only=False)
        printable = np.ones(n, dtype=bool)
        if odd.any():
            printable[odd] = [v.isprintable() for v in values[odd]]
        bad_id = (lengths > (col.max_length or 10**9)) | ~printable
        problems[~blank & bad_id] = "is not a valid identifier"
        values = np.where(blank | problems.bad, None, values)
    elif kind == "string":
        values = s.to_numpy(dtype=object)
        if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object:
            is_str = ~s.isna().to_numpy()
        else:
            is_str = s.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        problems[~blank & ~is_str] = "must be a string"
        strs = s.astype("string")
        lengths = strs.str.len().fillna(0).to_numpy()
        # plain ASCII is printable unless a control character; the rest asks Python
        odd = strs.str.contains(r"[^\x20-\x7e]", regex=True).to_numpy(dtype=bool,
                                                                     na_value=False)
        printable = np.ones(n, dtype=bool)
        if odd.any():
            printable[odd] = [v.isprintable() for v in strs[odd]]
        bad_id = (lengths > (col.max_length or 10**9)) | ~printable
        problems[~blank & is_str & bad_id] = "is not a valid identifier"
        values = np.where(blank | problems.bad, None, values)
    elif kind == "date":
        parsed = pd.to_datetime(s.where(~blank), errors="coerce", format="ISO8601")
        problems[~blank & parsed.isna().to_numpy()] = "is not a date"
        values = np.asarray(parsed.to_numpy(), dtype=object)
        values[blank] = None
    else:  # pragma: no cover
        raise AssertionError(kind)
    if col.required:
        problems[blank] = "is required"
    return values, problems.bad, problems


# --------------------------------------------------------------------------- entry points


def _contract_columns(schema: Schema, outcomes: bool) -> tuple[Column, ...]:
    return schema.columns + schema.outcome_columns if outcomes else schema.columns


def validate_campaigns(data: pd.DataFrame | Sequence[Mapping] | Mapping | str | Path, *,
                       outcomes: bool = False, strict: bool = False,
                       schema: Schema = SCHEMA) -> Validated:
    """Check campaigns against the contract.

    Parameters
    ----------
    data : DataFrame, list of dicts, one dict, or a path to a CSV or Parquet file
        The campaigns. In a DataFrame or a file an empty cell (or ``NaN``) means unknown; in
        JSON records ``None`` means unknown and a ``NaN`` float is an error.
    strict : bool
        For JSON bodies: take JSON types only (no numbers in strings, no 0/1 booleans).
    outcomes : bool
        Also validate the outcome columns (``failed`` required, ``failure_reason``,
        ``completed_on``), as training does.

    Returns
    -------
    Validated
        Typed columns for every row, every error found, and which rows are valid.

    Examples
    --------
    >>> v = validate_campaigns([{"campaign_id": "c1", "goal_alignment_score": 2}])
    >>> [e.column for e in v.errors][:2]
    ['goal_alignment_score', 'material_delay_days']
    """
    cols = _contract_columns(schema, outcomes)
    if isinstance(data, (str, Path)):
        data = read_table(data)
    if isinstance(data, Mapping):
        data = [data]
    if isinstance(data, pd.DataFrame):
        present = set(map(str, data.columns))
        ignored = [str(c) for c in data.columns if str(c) not in schema]
        if len(data) <= SMALL and not data.empty:
            records = data.astype(object).where(data.notna(), None).to_dict("records")
            columns, errors = _validate_records(records, cols, present, nan_is_missing=True)
        else:
            columns, errors = _validate_frame(data, cols, present)
        n = len(data)
    else:
        records = list(data)
        present = set()
        for r in records:
            if isinstance(r, Mapping):
                present.update(map(str, r.keys()))
        ignored = sorted(k for k in present if k not in schema)
        columns, errors = _validate_records(records, cols, None, False, strict)
        present = {c.name for c in cols}  # a missing key in a record means an empty value
        n = len(records)
    col_errors = missing_columns(present, cols)
    valid = np.ones(n, dtype=bool)
    for e in errors:
        valid[e.row - 1] = False
    if col_errors:
        valid[:] = False
    errors = col_errors + sorted(errors, key=lambda e: (e.row, _order(cols, e.column)))
    return Validated(CampaignBatch(n, columns, schema), errors, valid, ignored)


def missing_columns(present, cols: Sequence[Column] | None = None) -> list[FieldError]:
    """One error for each required column (of ``cols``, the contract's by default) that
    is not among the names ``present``."""
    cols = SCHEMA.columns if cols is None else cols
    return [FieldError(None, c.name, "is a required column and is missing", c.allowed())
            for c in cols if c.required and c.name not in present]


def _order(cols: list[Column], name: str) -> int:
    for i, c in enumerate(cols):
        if c.name == name:
            return i
    return -1


def _validate_frame(df: pd.DataFrame, cols: Sequence[Column],
                    present: set[str]) -> tuple[dict, list]:
    n = len(df)
    out: dict[str, np.ndarray] = {}
    errors: list[FieldError] = []
    df = df.rename(columns=str)
    for col in cols:
        if col.name not in present:
            out[col.name] = _empty_array(col, n)
            continue
        s = df[col.name].reset_index(drop=True)
        values, bad, problems = _validate_column(col, s)
        out[col.name] = values
        for i in np.flatnonzero(bad):
            raw = s.iat[i]
            received = None if _is_blank(raw, True) else raw
            if isinstance(received, np.generic):
                received = received.item()
            errors.append(FieldError(int(i) + 1, col.name, str(problems[i]), col.allowed(),
                                     received))
    return out, errors


def read_table(path: str | Path, **kw) -> pd.DataFrame:
    """Read a CSV (every cell as text, empty = unknown) or a Parquet file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path, **kw)
    if suffix in (".csv", ".txt") or str(path) == "-":
        return pd.read_csv(path, dtype=str, keep_default_na=False, **kw)
    raise ValueError(f"{path} has an unknown file type {suffix!r}: expected .csv or .parquet")
