"""Batch scoring: a quarter's planned campaigns from a file, streamed in chunks.

The output keeps every input column and adds flat, sortable columns: the risk, the band,
the top K factors (name, family, impact, reason, mitigation, risk if fixed), one column per
factor family, the readiness warnings and the model version. Invalid rows go to a rejects
file; the output is written under a temporary name and renamed into place only when
complete.
"""

from __future__ import annotations

import csv
import heapq
import os
import secrets
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from riskmodel.advice import ADVICE, readiness_flags
from riskmodel.errors import DataError, SchemaError
from riskmodel.schema import FAMILIES, SCHEMA
from riskmodel.scoring import BANDS, Scorer
from riskmodel.validation import validate_campaigns

CHUNK_ROWS = 100_000


@dataclass
class BatchSummary:
    """What a run did: counts, bands, leading families, the riskiest campaigns."""

    scored: int = 0
    rejected_rows: int = 0
    problems: int = 0
    bands: Counter = field(default_factory=Counter)
    leading_families: Counter = field(default_factory=Counter)
    riskiest: list = field(default_factory=list)  # (risk, campaign_id, band, top factor)
    risk_by_type: dict = field(default_factory=dict)  # campaign_type -> [sum, count]
    family_sums: Counter = field(default_factory=Counter)
    model_version: str = ""
    rejects_path: Path | None = None


def output_columns(top_k: int, families: tuple[str, ...]) -> list[str]:
    """Names of the columns scoring adds, in order."""
    cols = ["failure_risk", "risk_band"]
    for p in range(1, top_k + 1):
        cols += [f"factor_{p}", f"factor_{p}_family", f"factor_{p}_log_odds",
                 f"factor_{p}_probability_points", f"factor_{p}_direction",
                 f"factor_{p}_reason", f"factor_{p}_mitigation", f"factor_{p}_risk_if_fixed"]
    cols += [f"family_{f}" for f in families] + ["warnings", "model_version"]
    return cols


# --------------------------------------------------------------------------- readers


def _csv_header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        try:
            return next(csv.reader(f))
        except StopIteration:
            raise DataError(f"{path} is empty: expected a header row and campaigns") from None


def read_chunks(path: Path, chunk_rows: int) -> Iterator[tuple[pa.Table, pd.DataFrame]]:
    """Chunks of the input as (arrow table as read, DataFrame for validation)."""
    if path.suffix.lower() == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            table = pa.Table.from_batches([batch])
            yield table, table.to_pandas()
        return
    names = _csv_header(path)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{path} has duplicate column names: {', '.join(dup)}")
    reader = pacsv.open_csv(
        path, read_options=pacsv.ReadOptions(block_size=1 << 22),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),  # quoted line breaks
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False))
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table, table.to_pandas()
            pending, rows = [], 0
    if pending:
        table = pa.Table.from_batches(pending)
        yield table, table.to_pandas()


# --------------------------------------------------------------------------- scoring


def _take(labels: list, codes: np.ndarray) -> pa.Array:
    """``labels[codes]`` as an arrow string array, in C (code -1 gives an empty cell)."""
    codes = np.asarray(codes, dtype=np.int32)
    return pc.take(pa.array(labels, type=pa.string()), pa.array(codes, mask=codes < 0))


class _Labels:
    """Distinct texts seen so far (reasons, warning lists), each formatted once."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self._code: dict = {}

    def code(self, key, make) -> int:
        c = self._code.get(key)
        if c is None:
            c = self._code[key] = len(self.labels)
            self.labels.append(make())
        return c


def score_chunk(scorer: Scorer, df: pd.DataFrame, top_k: int):
    """Validate and score one chunk: (valid mask, errors, new arrow columns, arrays, batch)."""
    texts = _Labels()  # per chunk: distinct values (sales, delays...) grow with the file
    v = validate_campaigns(df)
    valid = v.valid
    batch = v.batch.take(np.flatnonzero(valid))
    if batch.n == 0:
        return valid, v.errors, None, None, None
    arr = scorer.explain_arrays(batch, top_k)
    n = batch.n
    names = list(scorer.factor_names)
    cols: dict[str, pa.Array] = {"failure_risk": pa.array(arr.risk),
                                 "risk_band": _take(list(BANDS), arr.band)}
    mitigations = [ADVICE[name].mitigation for name in names]
    for p in range(arr.top.shape[1]):
        j = arr.top[:, p]
        c = arr.contributions[np.arange(n), j]
        raises = c > 0
        reason = np.full(n, -1, dtype=np.int32)
        for k in np.unique(j):
            rows = np.flatnonzero((j == k) & raises)
            if len(rows):
                name = names[k]
                uniq, inverse = np.unique(arr.inputs[name][rows], return_inverse=True)
                codes = np.array([texts.code((name, x), lambda name=name, x=x: ADVICE[
                    name].reason(scorer.display_value(name, x))) for x in uniq.tolist()],
                    dtype=np.int32)
                reason[rows] = codes[inverse]
        q = f"factor_{p + 1}"
        cols[q] = _take(names, j)
        cols[f"{q}_family"] = _take(list(scorer.families), j)
        cols[f"{q}_log_odds"] = pa.array(c)
        cols[f"{q}_probability_points"] = pa.array(arr.risk - 1 / (1 + np.exp(c - arr.log_odds)))
        cols[f"{q}_direction"] = _take(["lowers", "raises"], raises.astype(np.int32))
        cols[f"{q}_reason"] = _take(texts.labels, reason)
        cols[f"{q}_mitigation"] = _take(mitigations, np.where(raises, j, -1))
        cols[f"{q}_risk_if_fixed"] = pa.array(arr.what_if_risk[:, p], from_pandas=True)
    fam_index = {f: i for i, f in enumerate(FAMILIES)}
    totals = np.zeros((n, len(fam_index)))
    for j, fam in enumerate(scorer.families):
        totals[:, fam_index[fam]] += arr.contributions[:, j]
    for fam, i in fam_index.items():
        cols[f"family_{fam}"] = pa.array(totals[:, i])
    flags = readiness_flags(batch.columns)
    codes = list(flags)
    bits = np.zeros(n, dtype=np.int64)
    for b, mask in enumerate(flags.values()):
        bits |= np.asarray(mask, dtype=np.int64) << b
    combos, inverse = np.unique(bits, return_inverse=True)
    warn = np.array([texts.code(("warnings", int(m)), lambda m=int(m): ";".join(
        code for b, code in enumerate(codes) if m >> b & 1)) for m in combos], dtype=np.int32)
    cols["warnings"] = _take(texts.labels, warn[inverse])
    cols["model_version"] = _take([scorer.version], np.zeros(n, dtype=np.int32))
    return valid, v.errors, cols, arr, batch


def _arrow_column(values) -> pa.Array:
    if isinstance(values, pa.Array):
        return values
    values = np.asarray(values)
    if values.dtype == object:
        return pa.array(values, type=pa.string(), from_pandas=True)
    return pa.array(values)


class _Rejects:
    """The rejects file: row number in the input, column, value, reason."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.part")
        self._f = None
        self.rows = 0
        self.problems = 0

    def add(self, errors, offset: int, ids) -> None:
        if not errors:
            return
        if self._f is None:
            self._f = open(self.tmp, "w", newline="", encoding="utf-8")
            self._w = csv.writer(self._f)
            self._w.writerow(["row", "campaign_id", "column", "value", "reason"])
        rows = set()
        for e in errors:
            row = None if e.row is None else e.row + offset
            rows.add(row)
            cid = None if e.row is None else ids[e.row - 1]
            self._w.writerow([row if row is not None else "", cid if isinstance(cid, str)
                              else "", e.column, "" if e.received is None else e.received,
                              e.message])
        self.rows += len(rows)
        self.problems += len(errors)

    def commit(self) -> Path | None:
        if self._f is None:
            return None
        self._f.close()
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Remove an uncommitted rejects file (a no-op after commit)."""
        if self._f is not None and not self._f.closed:
            self._f.close()
        Path(self.tmp).unlink(missing_ok=True)


def _summarise(summary: BatchSummary, arr, batch, scorer: Scorer, df: pd.DataFrame) -> None:
    summary.scored += batch.n
    summary.bands.update(np.asarray(BANDS, dtype=object)[arr.band].tolist())
    if arr.top.shape[1]:
        lead = np.asarray(scorer.families, dtype=object)[arr.top[:, 0]]
        summary.leading_families.update(lead.tolist())
    ids = batch["campaign_id"]
    top = np.argpartition(-arr.risk, 9)[:10] if len(arr.risk) > 10 else np.arange(len(arr.risk))
    for i in top:
        item = (float(arr.risk[i]), str(ids[i]), BANDS[arr.band[i]],
                scorer.factor_names[arr.top[i, 0]] if arr.top.shape[1] else "")
        if len(summary.riskiest) < 10:
            heapq.heappush(summary.riskiest, item)
        else:
            heapq.heappushpop(summary.riskiest, item)
    types = batch["campaign_type"]
    for code in np.unique(types):
        m = types == code
        label = SCHEMA["campaign_type"].categories[code] if code >= 0 else "(unknown)"
        s, c = summary.risk_by_type.get(label, (0.0, 0))
        summary.risk_by_type[label] = (s + float(arr.risk[m].sum()), c + int(m.sum()))
    for j, fam in enumerate(scorer.families):
        summary.family_sums[fam] += float(arr.contributions[:, j].sum())


def score_file(src: str | Path, dst: str | Path, scorer: Scorer, *, top_k: int = 3,
               strict: bool = False, rejects: str | Path | None = None,
               chunk_rows: int = CHUNK_ROWS, progress: bool | None = None,
               log_to=None) -> BatchSummary:
    """Score every campaign of ``src`` into ``dst`` (CSV or Parquet; ``-`` is standard
    input / output, CSV).

    Invalid rows go to ``rejects`` (default: beside the output, ``<name>.rejects.csv``) and
    the valid rows are scored. With ``strict`` any invalid row fails the run before anything
    is written (:class:`SchemaError`). The output appears only when complete. ``log_to``
    (a :class:`riskmodel.store.Store`) records every scored campaign in the prediction log.
    """
    from tqdm import tqdm

    stdin_copy = None
    if str(src) == "-":
        fd, name = tempfile.mkstemp(prefix="riskmodel-stdin-", suffix=".csv")
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
        stdin_copy = src = Path(name)
    src = Path(src)
    to_stdout = str(dst) == "-"
    dst = Path(dst)
    out_kind = "csv" if to_stdout else dst.suffix.lower().lstrip(".")
    if out_kind not in ("csv", "parquet"):
        raise ValueError(f"{dst} has an unknown file type: expected .csv or .parquet")
    if src.suffix.lower() not in (".csv", ".parquet", ".txt") and stdin_copy is None:
        raise ValueError(f"{src} has an unknown file type: expected .csv or .parquet")
    if not src.is_file():
        raise DataError(f"{src} does not exist")
    if src.stat().st_size == 0:
        raise DataError(f"{src} is empty: expected a header row and campaigns")
    rejects_path = Path(rejects) if rejects else (
        Path("rejects.csv") if to_stdout else dst.with_name(dst.stem + ".rejects.csv"))
    summary = BatchSummary(model_version=scorer.version)
    try:
        if strict:
            _check_all(src, chunk_rows)
        tmp = None
        writer = None
        rej = _Rejects(rejects_path)
        offset = 0
        bar = tqdm(unit=" rows", desc="scoring", disable=None if progress is None
                   else not progress, file=sys.stderr)
        try:
            if not to_stdout:
                dst.parent.mkdir(parents=True, exist_ok=True)
                # named before it exists, so an interrupt at any point finds it to delete
                tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(6)}.part")
                tmp.open("xb").close()
            sink = sys.stdout.buffer if to_stdout else str(tmp)
            for table, df in read_chunks(src, chunk_rows):
                missing = [c for c in SCHEMA.required if c not in df.columns]
                if missing:
                    raise SchemaError(validate_campaigns(df.head(1)).errors)
                valid, errors, cols, arr, batch = score_chunk(scorer, df, top_k)
                if errors:  # ids only when there is something to reject
                    ids = df["campaign_id"].tolist() if "campaign_id" in df \
                        else [None] * len(df)
                    rej.add(errors, offset, ids)
                offset += len(df)
                bar.update(len(df))
                if cols is None:
                    continue
                kept = table.filter(pa.array(valid))
                for name, values in cols.items():
                    kept = kept.append_column(name, _arrow_column(values))
                if writer is None:
                    writer = (pq.ParquetWriter(sink, kept.schema) if out_kind == "parquet"
                              else pacsv.CSVWriter(sink, kept.schema))
                writer.write_table(kept.cast(writer.schema) if out_kind == "parquet"
                                   else kept)
                _summarise(summary, arr, batch, scorer, df)
                if log_to is not None:
                    _log_predictions(log_to, df[valid], arr, scorer)
            if offset == 0:
                raise DataError(f"{src} has a header but no campaigns")
            if writer is None:  # nothing valid: still write a header-only output
                names = [str(c) for c in df.columns]
                schema = pa.schema([(n, pa.string()) for n in names]
                                   + [(n, pa.string()) for n in
                                      output_columns(top_k, FAMILIES)])
                writer = (pq.ParquetWriter(sink, schema) if out_kind == "parquet"
                          else pacsv.CSVWriter(sink, schema))
            writer.close()
            writer = None
            if tmp is not None:
                os.replace(tmp, dst)
                tmp = None
            summary.rejects_path = rej.commit()
            summary.rejected_rows, summary.problems = rej.rows, rej.problems
        finally:
            bar.close()
            if writer is not None:
                try:
                    writer.close()
                except Exception:  # noqa: BLE001  the temporary file is deleted anyway
                    pass
            if tmp is not None:  # not completed: nothing under the output's name
                tmp.unlink(missing_ok=True)
            rej.discard()
    finally:
        if stdin_copy is not None:
            stdin_copy.unlink(missing_ok=True)
    summary.riskiest.sort(reverse=True)
    return summary


def _log_predictions(store, rows: pd.DataFrame, arr, scorer: Scorer) -> None:
    """The scored rows, with their plan as read, into the store's prediction log."""
    cols = [c for c in SCHEMA.names if c in rows.columns]
    plans = rows[cols].astype(object).where(rows[cols].notna(), None).to_dict("records")
    bands = np.asarray(BANDS, dtype=object)[arr.band]
    store.log_predictions([
        {"campaign_id": p["campaign_id"], "model_version": scorer.version,
         "failure_risk": float(r), "risk_band": b, "inputs": p, "source": "batch",
         "request_id": None}
        for p, r, b in zip(plans, arr.risk.tolist(), bands.tolist(), strict=True)])


def _check_all(src: Path, chunk_rows: int) -> None:
    """--strict: validate the whole file first; raise with every problem found."""
    errors = []
    offset = 0
    for _, df in read_chunks(src, chunk_rows):
        v = validate_campaigns(df)
        for e in v.errors:
            errors.append(e if e.row is None else
                          type(e)(e.row + offset, e.column, e.problem, e.allowed, e.received))
        offset += len(df)
        if any(e.row is None for e in v.errors):
            break
    if errors:
        raise SchemaError(errors)
