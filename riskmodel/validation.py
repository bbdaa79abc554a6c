"""Turn a file, a DataFrame or JSON records into typed columns, or a list of errors.

Each value is judged by its column's :class:`riskmodel.rules.Rule`, the one place a rule is
written; this module applies the rules to records (value by value, the service's hot path)
and to frames and files (column by column, millions of rows), and collects the errors with
row and column. Typed columns are a :class:`riskmodel.campaigns.CampaignBatch`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard, cast

import numpy as np

from riskmodel._fast import ByIdentity
from riskmodel.campaigns import CampaignBatch
from riskmodel.contract import FAILURE_REASONS, SCHEMA, Column, Schema
from riskmodel.errors import FieldError, SchemaError, shorten
from riskmodel.i18n import N_
from riskmodel.rules import MAX_ERRORS, MAX_FIELDS, SLOW, Invalid, Rule, is_blank

if TYPE_CHECKING:  # imported when a frame or a file is read: JSON records need no pandas
    import pandas as pd

SMALL = 64  # inputs up to this many rows take the per-value path


@dataclass
class Validated:
    """The outcome of validation: typed columns for every row, the errors, which rows are
    valid, and which input columns were ignored because the contract does not have them."""

    batch: CampaignBatch
    errors: list[FieldError]
    valid: np.ndarray
    ignored_columns: list[str] = field(default_factory=list)
    more_errors: int = 0  # found beyond ``errors`` when validation was asked to stop early

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
            raise SchemaError(self.errors, more=self.more_errors)


class ErrorList(list[FieldError]):
    """Field errors as they are found: the first ``limit`` kept (all when None), the rest
    only counted in ``more``, so bad input costs bounded memory however much of it there is.
    """

    def __init__(self, limit: int | None = MAX_ERRORS) -> None:
        super().__init__()
        self.limit, self.more = limit, 0

    def add(self, error: FieldError) -> None:
        if self.limit is None or len(self) < self.limit:
            self.append(error)
        else:
            self.more += 1

    def add_all(self, errors: Iterable[FieldError]) -> None:
        """Each of ``errors``; and what they counted without keeping, if an ErrorList."""
        for e in errors:
            self.add(e)
        self.more += getattr(errors, "more", 0)

    @property
    def full(self) -> bool:
        """True when a further error would only be counted."""
        return self.limit is not None and len(self) >= self.limit

    @property
    def total(self) -> int:
        return len(self) + self.more

    def error(self) -> SchemaError:
        return SchemaError(list(self), more=self.more)


def check_fields(rec: object, known: frozenset[str], allowed: str, row: int,
                 errors: ErrorList, *, problem: str = N_("is not a field of the contract"),
                 noun: str = N_("a campaign"), prefix: str = "") -> bool:
    """Add to ``errors`` one error (``problem``) for each key of the object ``rec`` that is
    not in ``known`` (``allowed`` names them), at ``prefix`` + the key. An object of more
    than :data:`riskmodel.MAX_FIELDS` keys gets one error for the whole object, its keys
    unjudged, and the answer True: the caller refuses it before any other work."""
    if not isinstance(rec, Mapping):
        return False
    n = len(rec)
    if n > MAX_FIELDS:
        errors.add(FieldError(row, f"{prefix}(record)", f"has {n:,} fields",
                              f"at most {MAX_FIELDS} fields ({noun} has {len(known)})"))
        return True
    if not known.issuperset(rec):
        for key in rec:
            if key not in known:
                if errors.full:
                    errors.more += 1
                else:
                    errors.add(FieldError(row, prefix + shorten(str(key)), problem, allowed))
    return False


# --------------------------------------------------------------------------- per value

_RULES = ByIdentity()


def rules(cols: Sequence[Column]
          ) -> list[tuple[str, bool, object, Rule, Callable[[object], object]]]:
    """Per column: name, required, empty value, its rule and the rule's fast path (cached
    per column set, by identity: hashing two dozen columns would cost more)."""
    def build(cols):
        out = []
        for c in cols:
            rule = Rule(c)
            out.append((c.name, c.required, rule.empty, rule, rule.fast))
        return out
    return _RULES.get(cols, build)


def parse_record(rec: object, cols: Sequence[Column], present: set[str] | None,
                 nan_is_missing: bool, row: int,
                 strict: bool = False) -> tuple[dict, list[FieldError]]:
    """Typed plain values (floats with NaN for empty, category codes, strings) for every
    column of ``cols`` from one record, and its errors. Columns not in ``present`` are
    empty without error; ``present=None`` means a missing key is an empty value.
    ``strict`` (JSON) takes only null as empty, and blank text in a text column."""
    out: dict = {}
    errors: list[FieldError] = []
    if not (isinstance(rec, dict) or isinstance(rec, Mapping)):
        errors.append(FieldError(row, "(record)", N_("is not an object"),
                                 "an object of column: value pairs", type(rec).__name__))
        return {name: empty for name, _, empty, _, _ in rules(cols)}, errors
    get = rec.get
    for name, required, empty, rule, fast in rules(cols):
        if present is not None and name not in present:
            out[name] = empty
            continue
        x = fast(get(name))  # the usual value; an empty one (None) takes the full rule
        if x is not SLOW:
            out[name] = x
            continue
        v = get(name)
        # in JSON (strict) only null is empty: "" where a number, a boolean, a category or
        # a date belongs is a value of the wrong type, as the OpenAPI document says; blank
        # text stays empty for a text column (a blank campaign_id "is required")
        if v is None or (is_blank(v, nan_is_missing) and (not strict or rule.kind == "string")):
            out[name] = empty
            if required:
                errors.append(FieldError(row, name, N_("is required"), rule.column.allowed(),
                                         None if v is None else v))
            continue
        try:
            out[name] = rule.parse(v, strict)
        except Invalid as bad:
            out[name] = empty
            errors.append(FieldError(row, name, bad.problem, rule.column.allowed(), v))
    return out, errors


def validate_record(rec: Mapping, *, strict: bool = False,
                    schema: Schema = SCHEMA) -> tuple[dict, list[FieldError]]:
    """One campaign as plain typed values by column, and every error (row 1)."""
    return parse_record(rec, schema.columns, None, False, 1, strict)


_OUTCOME_COLUMNS = (SCHEMA["campaign_id"],) + SCHEMA.outcome_columns
_OUTCOME_FIELDS = frozenset({c.name for c in _OUTCOME_COLUMNS} | {"correction", "plan"})
_OUTCOME_ALLOWED = "one of " + ", ".join(sorted(_OUTCOME_FIELDS))
CAMPAIGN_FIELDS = frozenset(SCHEMA.names)
CAMPAIGN_ALLOWED = "one of " + ", ".join(SCHEMA.names)


def parse_outcome(item: object, row: int,
                  strict: bool = True) -> tuple[dict | None, ErrorList]:
    """One outcome from JSON (``campaign_id``, ``failed``, ``failure_reason``,
    ``completed_on``, ``correction``, ``plan``): plain fields ready for the store, or its
    errors with their row (at most :data:`riskmodel.MAX_ERRORS`, the rest counted). A
    ``plan`` is a campaign of the contract: a field it does not have is an error, as for
    scoring. ``strict`` takes JSON types only (the API); files pass text."""
    errors = ErrorList()
    values, found = parse_record(item, _OUTCOME_COLUMNS, None, False, row, strict=strict)
    errors.add_all(found)
    if not isinstance(item, Mapping) or check_fields(
            item, _OUTCOME_FIELDS, _OUTCOME_ALLOWED, row, errors,
            problem=N_("is not a field of an outcome"), noun=N_("an outcome")):
        return None, errors
    correction = item.get("correction", False)
    if not isinstance(correction, bool):
        errors.add(FieldError(row, "correction", N_("must be true or false"), "true or false",
                              correction))
    reason = values.get("failure_reason")
    reason = None if reason is None or reason < 0 else FAILURE_REASONS[reason]
    if values.get("failed") == 0.0 and reason is not None:
        errors.add(FieldError(row, "failure_reason", N_("must be empty for a success"),
                              "empty when failed is false", reason))
    plan = item.get("plan")
    if plan is not None:
        if not isinstance(plan, Mapping):
            errors.add(FieldError(row, "plan", N_("is not an object"), "a campaign object",
                                  type(plan).__name__))
        elif not check_fields(plan, CAMPAIGN_FIELDS, CAMPAIGN_ALLOWED, row, errors,
                              prefix="plan/"):
            _, plan_errors = validate_record(plan, strict=strict)
            errors.add_all(FieldError(row, f"plan/{e.column}", e.problem, e.allowed,
                                      e.received) for e in plan_errors)
            if plan.get("campaign_id") not in (None, item.get("campaign_id")):
                errors.add(FieldError(row, "plan/campaign_id", N_("differs from the outcome's"),
                                      shorten(str(item.get("campaign_id"))),
                                      plan.get("campaign_id")))
    if errors:
        return None, errors
    completed = values.get("completed_on")
    out = {"campaign_id": values["campaign_id"], "failed": bool(values["failed"]),
           "failure_reason": reason,
           "completed_on": None if completed is None else completed.isoformat(),
           "correction": correction}
    if plan is not None:
        out["plan"] = dict(plan, campaign_id=values["campaign_id"])
    return out, errors


def _validate_records(records: Sequence[Mapping], cols: Sequence[Column],
                      present: set[str] | None, nan_is_missing: bool,
                      strict: bool = False, max_errors: int | None = None
                      ) -> tuple[dict, ErrorList, np.ndarray]:
    """Typed columns, the errors (the first ``max_errors`` kept) and which rows are bad."""
    rows, errors = [], ErrorList(max_errors)
    bad = np.zeros(len(records), dtype=bool)
    for i, rec in enumerate(records):
        row, errs = parse_record(rec, cols, present, nan_is_missing, i + 1, strict)
        rows.append(row)
        if errs:
            bad[i] = True
            errors.add_all(errs)
    out = {}
    for name, _, _, rule, _ in rules(cols):
        dtype = rule.dtype
        values = [r[name] for r in rows]
        if dtype is object:
            arr = np.empty(len(rows), dtype=object)
            arr[:] = values
        else:
            arr = np.array(values, dtype=dtype)
        out[name] = arr
    return out, errors, bad


# --------------------------------------------------------------------------- entry points


def _contract_columns(schema: Schema, outcomes: bool) -> tuple[Column, ...]:
    return schema.columns + schema.outcome_columns if outcomes else schema.columns


def validate_campaigns(data: pd.DataFrame | Sequence[Mapping] | Mapping | str | Path, *,
                       outcomes: bool = False, strict: bool = False,
                       schema: Schema = SCHEMA, max_errors: int | None = None) -> Validated:
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
    max_errors : int, optional
        Keep only the first this many errors (by row), counting the rest in
        ``Validated.more_errors``; JSON records stop collecting there (the service passes
        :data:`riskmodel.MAX_ERRORS`). Which rows are valid is told for every row.

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
    found: list[FieldError]
    if _is_frame(data):
        present = set(map(str, data.columns))
        ignored = [str(c) for c in data.columns if str(c) not in schema]
        if len(data) <= SMALL and not data.empty:
            records = data.astype(object).where(data.notna(), None).to_dict("records")
            columns, found, bad = _validate_records(records, cols, present,
                                                    nan_is_missing=True)
        else:
            columns, found = _validate_frame(data, cols, present)
            bad = np.zeros(len(data), dtype=bool)
            for e in found:
                bad[cast(int, e.row) - 1] = True
        n = len(data)
    else:
        records = list(data)
        present = set()
        for r in records:
            if isinstance(r, Mapping):
                present.update(map(str, r.keys()))
        ignored = sorted(k for k in present if k not in schema)
        columns, found, bad = _validate_records(records, cols, None, False, strict,
                                                max_errors)
        present = {c.name for c in cols}  # a missing key in a record means an empty value
        n = len(records)
    col_errors = missing_columns(present, cols)
    valid = ~bad
    if col_errors:
        valid[:] = False
    more = getattr(found, "more", 0)
    errors = col_errors + sorted(found, key=lambda e: (e.row, _order(cols, e.column)))
    if max_errors is not None and len(errors) > max_errors:
        more += len(errors) - max_errors
        errors = errors[:max_errors]
    return Validated(CampaignBatch(n, columns, schema), errors, valid, ignored, more)


def _is_frame(data: object) -> TypeGuard[pd.DataFrame]:
    """A pandas DataFrame (which exists only once pandas is loaded: no import needed)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(data, pd.DataFrame)


def missing_columns(present, cols: Sequence[Column] | None = None) -> list[FieldError]:
    """One error for each required column (of ``cols``, the contract's by default) that
    is not among the names ``present``."""
    cols = SCHEMA.columns if cols is None else cols
    return [FieldError(None, c.name, N_("is a required column and is missing"), c.allowed())
            for c in cols if c.required and c.name not in present]


def _order(cols: Sequence[Column], name: str) -> int:
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
    for name, _, empty, rule, _ in rules(cols):
        if name not in present:
            out[name] = np.full(n, empty, dtype=rule.dtype)
            continue
        s = df[name].reset_index(drop=True)
        values, problems = rule.parse_column(s)
        out[name] = values
        for i in np.flatnonzero(problems.bad).tolist():
            raw = s.iat[i]
            received = None if is_blank(raw, True) else raw
            if isinstance(received, np.generic):
                received = received.item()
            errors.append(FieldError(i + 1, name, str(problems[i]), rule.column.allowed(),
                                     received))
    return out, errors


def read_table(path: str | Path, **kw) -> pd.DataFrame:
    """Read a CSV (every cell as text, empty = unknown) or a Parquet file."""
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path, **kw)
    if suffix in (".csv", ".txt") or str(path) == "-":
        return pd.read_csv(path, dtype=str, keep_default_na=False, **kw)
    raise ValueError(f"{path} has an unknown file type {suffix!r}: expected .csv or .parquet")
