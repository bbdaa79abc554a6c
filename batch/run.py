"""Batch scoring: a quarter's planned campaigns from a file, streamed in chunks.

The output keeps every input column and adds flat, sortable columns: the risk, the band,
the top K factors (name, family, impact, reason, mitigation, risk if fixed), one column per
factor family, the readiness warnings and the model version. Invalid rows go to a rejects
file; the output is written under a temporary name and renamed into place only when
complete.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pyarrow as pa

from batch.chunks import CHUNK_ROWS, input_names, prefetch, read_chunks
from batch.columns import output_columns, replaced_columns
from batch.outputs import Output, Rejects, check_paths, default_rejects
from batch.parts import Part, score_part
from batch.summary import BatchSummary, progress_bar
from batch.workbook import is_workbook, score_via_workbook
from riskmodel import (
    BANDS,
    FAMILIES,
    SCHEMA,
    DataError,
    SchemaError,
    Scorer,
    missing_columns,
    validate_campaigns,
)


def score_file(src: str | Path, dst: str | Path, scorer: Scorer, *, top_k: int = 3,
               strict: bool = False, rejects: str | Path | None = None,
               chunk_rows: int = CHUNK_ROWS, progress: bool | None = None,
               log_to=None, workers: int | None = None) -> BatchSummary:
    """Score every campaign of ``src`` into ``dst`` (CSV, Parquet or an Excel workbook;
    ``-`` is standard input / output, CSV).

    Invalid rows go to ``rejects`` (default: beside the output, ``<name>.rejects.csv``) and
    the valid rows are scored. With ``strict`` any invalid row fails the run before anything
    is written (:class:`SchemaError`). The output appears only when complete. ``log_to``
    (a :class:`riskmodel.store.Store`) records every scored campaign in the prediction log.
    ``workers``: 1 (the default) scores here, the next chunk read and the last written on
    threads meanwhile; more runs :func:`batch.dask_engine.score_file_dask` on a local Dask
    cluster of that many processes (the ``dask`` extra). The output is the same for any
    number.
    """
    check_paths(input=src, output=dst, rejects_file=default_rejects(dst) if rejects is None
                else rejects)
    if workers is not None and workers > 1:
        from batch.dask_engine import score_file_dask

        return score_file_dask(src, dst, scorer, top_k=top_k, strict=strict, rejects=rejects,
                               chunk_rows=chunk_rows, progress=progress, log_to=log_to,
                               workers=workers)
    if is_workbook(src) or is_workbook(dst):  # .xlsx: converted around this same run
        return score_via_workbook(score_file, src, dst, scorer, top_k=top_k, strict=strict,
                                  rejects=rejects, chunk_rows=chunk_rows, progress=progress,
                                  log_to=log_to)
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
        raise ValueError(f"{dst} has an unknown file type: expected .csv, .parquet or .xlsx")
    if src.suffix.lower() not in (".csv", ".parquet", ".txt") and stdin_copy is None:
        raise ValueError(f"{src} has an unknown file type: expected .csv, .parquet or .xlsx")
    if not src.is_file():
        raise DataError(f"{src} does not exist")
    if src.stat().st_size == 0:
        raise DataError(f"{src} is empty: expected a header row and campaigns")
    rejects_path = Path(rejects) if rejects else default_rejects(dst)
    summary = BatchSummary(model_version=scorer.version)
    try:
        summary.replaced = len(replaced_columns(input_names(src)))
        if strict:
            _check_all(src, chunk_rows)
        tmp = None
        out = None
        rej = Rejects(rejects_path, scorer.locale)  # its words in the scorer's language
        offset = 0
        bar = None
        try:
            if not to_stdout:
                dst.parent.mkdir(parents=True, exist_ok=True)
                # named before it exists, so an interrupt at any point finds it to delete
                tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(6)}.part")
                tmp.open("xb").close()
            sink = sys.stdout.buffer if to_stdout else str(tmp)
            bar = progress_bar(progress)
            out = Output(sink, out_kind)
            chunks = _checked(read_chunks(src, chunk_rows))
            # the next chunk is read (and made a frame) on a thread while this one is scored
            with closing(prefetch((t, t.to_pandas()) for t in chunks)) as ahead:
                for table, df in ahead:
                    part = score_part(scorer, table, df, top_k, log_to is not None)
                    rej.add(part.errors, offset, part.ids)
                    offset += part.rows
                    if part.output is not None:
                        out.write(part.output)
                        summary.merge(part.summary)
                        if log_to is not None:
                            _log_predictions(log_to, part, scorer)
                    bar.update(part.rows)
            if offset == 0:
                raise DataError(f"{src} has a header but no campaigns")
            if not out.started:  # nothing valid: still write a header-only output
                names = input_names(src)
                old = set(replaced_columns(names))
                out.write_schema(pa.schema([(n, pa.string()) for n in names if n not in old]
                                           + [(n, pa.string()) for n in
                                              output_columns(top_k, FAMILIES)]))
            out.close()
            out = None
            if tmp is not None:
                os.replace(tmp, dst)
                tmp = None
            summary.rejects_path = rej.commit()
            summary.rejected_rows, summary.problems = rej.rows, rej.problems
        finally:
            if bar is not None:
                bar.close()
            if out is not None:
                out.abort()  # waits for the write in flight, so the file can go
            if tmp is not None:  # not completed: nothing under the output's name
                tmp.unlink(missing_ok=True)
            rej.discard()
    finally:
        if stdin_copy is not None:
            stdin_copy.unlink(missing_ok=True)
    summary.riskiest.sort(reverse=True)
    return summary


def _check_columns(names: list[str]) -> None:
    """One clear error naming every required column the input lacks, before scoring."""
    errors = missing_columns(set(names))
    if errors:
        raise SchemaError(errors)


def _checked(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """The chunks, after checking the first has every required column."""
    for i, table in enumerate(tables):
        if i == 0:
            _check_columns(table.column_names)
        yield table


def _log_predictions(store, part: Part, scorer: Scorer) -> None:
    """The scored rows, with their plan as read, into the store's prediction log."""
    if part.inputs is None or part.risk is None or part.band is None:
        raise RuntimeError("a part scored without keep_scores has no scores to log")
    rows = part.inputs.to_pandas()
    cols = [c for c in SCHEMA.names if c in rows.columns]
    plans = rows[cols].astype(object).where(rows[cols].notna(), None).to_dict("records")
    bands = np.asarray(BANDS, dtype=object)[part.band]
    store.log_predictions([
        {"campaign_id": p["campaign_id"], "model_version": scorer.version,
         "failure_risk": float(r), "risk_band": b, "inputs": p, "source": "batch",
         "request_id": None}
        for p, r, b in zip(plans, part.risk.tolist(), bands.tolist(), strict=True)])


def _check_all(src: Path, chunk_rows: int) -> None:
    """--strict: validate the whole file first; raise with every problem found."""
    errors = []
    offset = 0
    for table in read_chunks(src, chunk_rows):
        df = table.to_pandas()
        v = validate_campaigns(df)
        for e in v.errors:
            errors.append(e if e.row is None else dataclasses.replace(e, row=e.row + offset))
        offset += len(df)
        if any(e.row is None for e in v.errors):
            break
    if errors:
        raise SchemaError(errors)
