"""Batch scoring: a quarter's planned campaigns from a file, streamed in chunks.

The output keeps every input column and adds flat, sortable columns: the risk, the band,
the top K factors (name, family, impact, reason, mitigation, risk if fixed), one column per
factor family, the readiness warnings and the model version. Invalid rows go to a rejects
file; the output is written under a temporary name and renamed into place only when
complete.
"""

from __future__ import annotations

import csv
import dataclasses
import heapq
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import sys
import tempfile
import traceback
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from riskmodel.advice import ADVICE, readiness_flags
from riskmodel.errors import DataError, RiskModelError, SchemaError
from riskmodel.schema import FAMILIES, SCHEMA
from riskmodel.scoring import BANDS, Scorer
from riskmodel.validation import missing_columns, validate_campaigns

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

    def merge(self, part: BatchSummary) -> None:
        """Add one chunk's summary (its counts, sums and riskiest campaigns) to this one."""
        self.scored += part.scored
        self.bands.update(part.bands)
        self.leading_families.update(part.leading_families)
        self.family_sums.update(part.family_sums)
        for label, (s, c) in part.risk_by_type.items():
            s0, c0 = self.risk_by_type.get(label, (0.0, 0))
            self.risk_by_type[label] = (s0 + s, c0 + c)
        for item in part.riskiest:
            if len(self.riskiest) < 10:
                heapq.heappush(self.riskiest, item)
            else:
                heapq.heappushpop(self.riskiest, item)


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
    with open(path, newline="", encoding="utf-8-sig") as f:  # a spreadsheet's BOM
        try:
            return next(csv.reader(f))
        except StopIteration:
            raise DataError(f"{path} is empty: expected a header row and campaigns") from None


def _csv_names(path: Path) -> list[str]:
    names = _csv_header(path)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{path} has duplicate column names: {', '.join(dup)}")
    return names


def _csv_options(names: list[str]) -> tuple[pacsv.ParseOptions, pacsv.ConvertOptions]:
    """How every reader here parses CSV: every cell as text, quoted line breaks allowed."""
    return (pacsv.ParseOptions(newlines_in_values=True),
            pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                 strings_can_be_null=False))


def read_chunks(path: Path, chunk_rows: int) -> Iterator[pa.Table]:
    """Chunks of the input as arrow tables, as read (CSV cells as text)."""
    if path.suffix.lower() == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield pa.Table.from_batches([batch])
        return
    names = _csv_names(path)
    parse, convert = _csv_options(names)
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 22),
                                parse_options=parse, convert_options=convert)
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= chunk_rows:
                yield pa.Table.from_batches(pending)
                pending, rows = [], 0
    except pa.ArrowInvalid as e:  # a broken record (wrong number of fields...)
        raise DataError(f"{path}: {e}") from None
    if pending:
        yield pa.Table.from_batches(pending)


@dataclass(frozen=True)
class CsvBlock:
    """Whole CSV records at ``offset`` of ``path`` (no header): a chunk a worker reads and
    parses itself, so the text is parsed in parallel and never sent through a pipe."""

    path: str
    offset: int
    length: int
    names: tuple[str, ...]

    def read(self) -> pa.Table:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(self.length)
        parse, convert = _csv_options(list(self.names))
        try:
            return pacsv.read_csv(pa.py_buffer(data), parse_options=parse,
                                  convert_options=convert,
                                  read_options=pacsv.ReadOptions(
                                      column_names=list(self.names), use_threads=False))
        except pa.ArrowInvalid as e:  # a broken record (wrong number of fields...)
            raise DataError(f"{self.path}: {e}") from None


def _record_end(buf: bytes, last: bool) -> int:
    """Where a CSV record of ``buf`` ends (just after its line break), -1 if none does:
    the last such place, or the first with ``last=False``. ``buf`` starts at a record. A
    line break ends a record only outside quotes, where the number of quote characters
    before it is even (RFC 4180 doubles a quote inside a quoted field, keeping the parity).
    """
    if last and b'"' not in buf:
        return buf.rfind(b"\n") + 1 or -1
    if last:
        i, odd = len(buf), buf.count(b'"') % 2
        while (j := buf.rfind(b"\n", 0, i)) >= 0:
            odd ^= buf.count(b'"', j, i) % 2  # now the parity of buf[:j]
            if not odd:
                return j + 1
            i = j
        return -1
    i, odd = 0, 0
    while (j := buf.find(b"\n", i)) >= 0:
        odd ^= buf.count(b'"', i, j) % 2
        if not odd:
            return j + 1
        i = j + 1
    return -1


def csv_blocks(path: Path, chunk_rows: int = CHUNK_ROWS) -> Iterator[CsvBlock]:
    """Split a CSV file after its header into blocks of whole records, about
    ``chunk_rows`` records each (sized from the first MiB's records)."""
    names = tuple(_csv_names(path))
    with open(path, "rb") as f:
        head = f.read(1 << 20)
        while (pos := _record_end(head, last=False)) < 0:
            more = f.read(1 << 20)
            if not more:
                return  # a header and no records
            head += more
        sample = head[pos:]
        block_bytes = max(1, chunk_rows * len(sample) // max(1, sample.count(b"\n")))
        while True:
            f.seek(pos)
            buf = f.read(block_bytes)
            if len(buf) < block_bytes:
                if buf.strip():
                    yield CsvBlock(str(path), pos, len(buf), names)
                return
            while (cut := _record_end(buf, last=True)) < 0:
                more = f.read(block_bytes)
                if not more:
                    cut = len(buf)
                    break
                buf += more
            yield CsvBlock(str(path), pos, cut, names)
            pos += cut


# --------------------------------------------------------------------------- scoring


def _take(labels: list, codes: np.ndarray) -> pa.Array:
    """``labels[codes]`` as a dictionary-encoded arrow column (code -1 gives an empty
    cell): no text is copied here; the writer thread expands it as it writes."""
    codes = np.asarray(codes, dtype=np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0),
                                          pa.array(labels, type=pa.string()))


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

    def text(self, text: str) -> int:
        return self.code(text, lambda: text)


def _reason_codes(texts: _Labels, reason, x: np.ndarray, step: float | None) -> np.ndarray:
    """The code of ``reason(v)`` for every input ``v`` of ``x``, formatting each distinct
    text about once. With ``step`` (the advice's hint), values that round to the same
    multiple of 1/step are grouped; a group is trusted when its smallest and largest value
    read the same (the texts are monotone in the value), else its values are formatted
    one by one."""
    key = x if step is None else np.rint(x * step)
    uniq, inverse = np.unique(key, return_inverse=True)
    if step is None:
        return np.array([texts.text(reason(v)) for v in uniq.tolist()],
                        dtype=np.int32)[inverse]
    lo = np.full(len(uniq), np.inf)
    hi = np.full(len(uniq), -np.inf)
    np.minimum.at(lo, inverse, x)
    np.maximum.at(hi, inverse, x)
    codes = np.empty(len(uniq), dtype=np.int32)
    out = np.empty(len(x), dtype=np.int32)
    for g, (a, b) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
        text = reason(a)
        if text == reason(b):
            codes[g] = texts.text(text)
        else:  # the hint does not hold here
            codes[g] = -1
            members = np.flatnonzero(inverse == g)
            out[members] = [texts.text(reason(v)) for v in x[members].tolist()]
    grouped = codes[inverse]
    return np.where(grouped >= 0, grouped, out)


def score_chunk(scorer: Scorer, df: pd.DataFrame, top_k: int):
    """Validate and score one chunk: (valid mask, errors, new arrow columns, arrays, batch)."""
    texts = _Labels()  # per chunk: distinct values (sales, delays...) grow with the file
    v = validate_campaigns(df)
    valid = v.valid
    batch = v.batch if valid.all() else v.batch.take(np.flatnonzero(valid))
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
                advice = ADVICE[name]
                reason[rows] = _reason_codes(
                    texts, lambda v, a=advice, n=name: a.reason(scorer.display_value(n, v)),
                    arr.inputs[name][rows], advice.reason_step)
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
    lookup = np.zeros(1 << len(codes), dtype=np.int32)  # combination of flags -> text
    for m in np.flatnonzero(np.bincount(bits, minlength=len(lookup))).tolist():
        lookup[m] = texts.code(("warnings", m), lambda m=m: ";".join(
            code for b, code in enumerate(codes) if m >> b & 1))
    cols["warnings"] = _take(texts.labels, lookup[bits])
    cols["model_version"] = _take([scorer.version], np.zeros(n, dtype=np.int32))
    return valid, v.errors, cols, arr, batch



@dataclass
class _Part:
    """One chunk, scored: what the writer, the rejects file and the summary need from it."""

    rows: int
    valid: np.ndarray
    errors: list
    ids: list | None  # campaign_id of every row, only when some row was rejected
    output: pa.Table | bytes | None  # the valid rows with the added columns; CSV as bytes
    summary: BatchSummary
    inputs: pa.Table | None = None  # for the prediction log: the valid rows as read,
    risk: np.ndarray | None = None  # their risks
    band: np.ndarray | None = None  # and bands


def _score_part(scorer: Scorer, table: pa.Table, df: pd.DataFrame, top_k: int,
                keep_scores: bool) -> _Part:
    """Score one chunk and summarise it; runs in the main process or in a worker."""
    valid, errors, cols, arr, batch = score_chunk(scorer, df, top_k)
    ids = None
    if errors:  # ids only when there is something to reject
        ids = df["campaign_id"].tolist() if "campaign_id" in df else [None] * len(df)
    summary = BatchSummary()
    if cols is None:
        return _Part(len(df), valid, errors, ids, None, summary)
    inputs = table if valid.all() else table.filter(pa.array(valid))
    kept = inputs
    for name, values in cols.items():
        kept = kept.append_column(name, values)
    _summarise(summary, arr, batch, scorer, df)
    part = _Part(len(df), valid, errors, ids, kept, summary)
    if keep_scores:
        part.inputs = inputs
        part.risk, part.band = arr.risk, arr.band
    return part


# Worker processes score chunks in parallel: each is forked with the loaded scorer, so it
# starts at once and scores exactly as the main process would.


def _worker_score(scorer: Scorer, chunk: pa.Table | CsvBlock, top_k: int, keep_scores: bool,
                  csv_part: str | None) -> _Part:
    """Score one chunk in a worker (a CSV block it parses itself, or a table). For CSV
    output the worker also formats the rows (half the work) straight into ``csv_part``, a
    file the main process appends to the output: the text never goes through a pipe."""
    table = chunk.read() if isinstance(chunk, CsvBlock) else chunk
    part = _score_part(scorer, table, table.to_pandas(), top_k, keep_scores)
    if csv_part is not None and part.output is not None:
        pacsv.write_csv(part.output, csv_part,
                        write_options=pacsv.WriteOptions(include_header=False))
        part.output = (part.output.schema, csv_part)
    return part


_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


def _worker_main(conn, scorer: Scorer, main_ends: list) -> None:
    """A worker's loop: a task in, its part (or the exception) out, until told to stop or
    the main process goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles interrupts
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)  # held while forking
    # the fork copied the main process's ends of this worker's pipe and of the workers
    # forked before it: closed here, so that when the main process is gone (even killed)
    # this worker's next read ends instead of waiting forever
    for end in main_ends:
        end.close()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            result = _worker_score(scorer, *task)
        except Exception as e:  # noqa: BLE001  raised again in the main process
            if not isinstance(e, (RiskModelError, ValueError, OSError)):  # a bug: say where
                e.add_note("in a scoring worker:\n" + "".join(traceback.format_exception(e)))
            result = e
        try:
            conn.send(result)
        except Exception:  # noqa: BLE001  an exception that does not pickle
            conn.send(RuntimeError(f"a scoring worker failed: {result!r}"))


def default_workers() -> int:
    """Worker processes for batch scoring: one per core the process may use, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


class _Scoring:
    """Chunks in, scored parts out, in input order.

    With one worker the chunks are scored here while the next is read on a thread. With
    more, forked worker processes score them (and format CSV): each has its own pipe and
    one chunk at a time, chunks go round-robin, so results come back in order and a killed
    worker cannot leave a lock held.
    """

    def __init__(self, scorer: Scorer, top_k: int, keep_scores: bool, workers: int,
                 part_dir: Path | None) -> None:
        self.scorer, self.top_k, self.keep_scores = scorer, top_k, keep_scores
        self.part_dir = part_dir  # where workers put formatted CSV chunks; None: Parquet
        self.procs: list = []
        self.conns: list = []
        if workers > 1 and "fork" in mp.get_all_start_methods():
            ctx = mp.get_context("fork")
            # an interrupt landing inside fork() would be swallowed by an at-fork hook:
            # hold SIGINT and SIGTERM until the workers exist, then take them as usual
            held = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
            try:
                try:
                    for _ in range(workers):
                        here, there = ctx.Pipe()
                        proc = ctx.Process(target=_worker_main,
                                           args=(there, scorer, [*self.conns, here]),
                                           daemon=True, name="riskmodel-score")
                        proc.start()
                        there.close()
                        self.procs.append(proc)
                        self.conns.append(here)
                finally:
                    # an interrupt that came meanwhile is raised here
                    signal.pthread_sigmask(signal.SIG_SETMASK, held)
            except BaseException:  # the caller never gets this object: stop them here
                self.abort()
                raise

    def _result(self, w: int) -> _Part:
        try:
            result = self.conns[w].recv()
        except EOFError:  # killed (out of memory, a signal...): one clear error, exit 1
            self.procs[w].join(timeout=5)
            raise RiskModelError(f"a scoring worker stopped unexpectedly (exit code "
                                 f"{self.procs[w].exitcode}); nothing was written") from None
        if isinstance(result, BaseException):
            raise result
        return result

    @property
    def parallel(self) -> bool:
        return bool(self.procs)

    def parts(self, chunks: Iterator[pa.Table | CsvBlock]) -> Iterator[_Part]:
        """Score ``chunks`` (tables; CSV blocks only with workers) in order."""
        if not self.procs:
            with closing(_prefetch((t, t.to_pandas()) for t in chunks)) as ahead:
                for table, df in ahead:
                    yield _score_part(self.scorer, table, df, self.top_k, self.keep_scores)
            return
        n = len(self.procs)
        busy: set[int] = set()  # workers with a chunk; the oldest is the next in order
        seq = -1
        with closing(_prefetch(chunks)) as ahead:
            for seq, chunk in enumerate(ahead):
                w = seq % n
                if w in busy:
                    busy.discard(w)
                    yield self._result(w)
                csv_part = None if self.part_dir is None else \
                    str(self.part_dir / f"{seq:07d}.csv")
                self.conns[w].send((chunk, self.top_k, self.keep_scores, csv_part))
                busy.add(w)
            for k in range(1, n + 1):  # the rest, in order
                w = (seq + k) % n
                if w in busy:
                    busy.discard(w)
                    yield self._result(w)

    def close(self) -> None:
        """Let the workers finish and exit."""
        for conn in self.conns:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=10)
        self.abort()

    def abort(self) -> None:
        """Stop the workers now (nothing they hold is needed)."""
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
            proc.join()
        for conn in self.conns:
            conn.close()
        self.procs, self.conns = [], []


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
            cid = None if e.row is None else ids[e.row - 1]
            if e.row is not None:  # the chunk's row number -> the file's
                e = dataclasses.replace(e, row=e.row + offset)
            rows.add(e.row)
            self._w.writerow([e.row if e.row is not None else "",
                              cid if isinstance(cid, str) else "", e.column,
                              "" if e.received is None else e.received, e.message])
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
    for band, count in zip(BANDS, np.bincount(arr.band, minlength=len(BANDS)).tolist(),
                           strict=True):
        if count:
            summary.bands[band] += count
    if arr.top.shape[1]:
        counts = np.bincount(arr.top[:, 0], minlength=len(scorer.families)).tolist()
        for fam, count in zip(scorer.families, counts, strict=True):
            if count:
                summary.leading_families[fam] += count
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
               log_to=None, workers: int | None = None) -> BatchSummary:
    """Score every campaign of ``src`` into ``dst`` (CSV or Parquet; ``-`` is standard
    input / output, CSV).

    Invalid rows go to ``rejects`` (default: beside the output, ``<name>.rejects.csv``) and
    the valid rows are scored. With ``strict`` any invalid row fails the run before anything
    is written (:class:`SchemaError`). The output appears only when complete. ``log_to``
    (a :class:`riskmodel.store.Store`) records every scored campaign in the prediction log.
    ``workers`` processes score chunks in parallel (default: one per core, at most 4); the
    output is the same for any number.
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
        tmp = part_dir = None
        out = scoring = None
        rej = _Rejects(rejects_path)
        offset = 0
        bar = None
        workers = default_workers() if workers is None else workers
        try:
            if not to_stdout:
                dst.parent.mkdir(parents=True, exist_ok=True)
                # named before it exists, so an interrupt at any point finds it to delete
                tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(6)}.part")
                tmp.open("xb").close()
            sink = sys.stdout.buffer if to_stdout else str(tmp)
            if out_kind == "csv" and workers > 1:  # workers put formatted chunks here
                part_dir = Path(tempfile.mkdtemp(
                    prefix=".riskmodel-parts-", dir=None if to_stdout else dst.parent))
            # the workers are forked first, before this process starts any thread
            scoring = _Scoring(scorer, top_k, log_to is not None, workers, part_dir)
            bar = tqdm(unit=" rows", desc="scoring", disable=None if progress is None
                       else not progress, file=sys.stderr)
            out = _Output(sink, out_kind)
            if scoring.parallel and src.suffix.lower() != ".parquet":
                _check_columns(_csv_names(src))
                chunks = csv_blocks(src, chunk_rows)
            else:
                chunks = _checked(read_chunks(src, chunk_rows))
            with closing(scoring.parts(chunks)) as parts:
                for part in parts:
                    rej.add(part.errors, offset, part.ids)
                    offset += part.rows
                    if part.output is not None:
                        out.write(part.output)
                        summary.merge(part.summary)
                        if log_to is not None:
                            _log_predictions(log_to, part.inputs.to_pandas(), part, scorer)
                    bar.update(part.rows)
            scoring.close()
            if offset == 0:
                raise DataError(f"{src} has a header but no campaigns")
            if not out.started:  # nothing valid: still write a header-only output
                names = (pq.ParquetFile(src).schema_arrow.names
                         if src.suffix.lower() == ".parquet" else _csv_names(src))
                out.write_schema(pa.schema([(n, pa.string()) for n in names]
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
            if scoring is not None:
                scoring.abort()  # no-op after close
            if out is not None:
                out.abort()  # waits for the write in flight, so the file can go
            if tmp is not None:  # not completed: nothing under the output's name
                tmp.unlink(missing_ok=True)
            if part_dir is not None:
                shutil.rmtree(part_dir, ignore_errors=True)
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


def _prefetch(chunks: Iterator, depth: int = 1) -> Iterator:
    """Iterate ``chunks`` with the next item already being read on a background thread
    (pyarrow parses outside the GIL, so reading overlaps scoring). Closing this closes
    ``chunks`` too, once the thread has let go of it."""
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="riskmodel-read") as pool:
            ahead: deque = deque(pool.submit(next, chunks, None) for _ in range(depth))
            try:
                while True:
                    item = ahead.popleft().result()
                    if item is None:
                        return
                    ahead.append(pool.submit(next, chunks, None))
                    yield item
            finally:
                for f in ahead:
                    f.cancel()
    finally:  # the pool has shut down: no read is running, the source can close its file
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class _Output:
    """The scored file, written in input order by one background thread.

    Writing overlaps scoring (pyarrow formats and writes outside the GIL). At most
    ``depth`` chunks wait, which keeps memory bounded; a failed write is raised at the next
    call. A chunk arrives as a table, or for CSV as ``(schema, path)`` of rows a worker
    already formatted, which are copied in by the kernel. Text columns are
    dictionary-encoded; for Parquet they are cast to plain strings.
    """

    def __init__(self, sink, kind: str, depth: int = 2) -> None:
        self.sink, self.kind, self.depth = sink, kind, depth
        self._writer = None  # pyarrow's CSV or Parquet writer
        self._file = None  # or our own file, when workers format the CSV
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="riskmodel-write")
        self._pending: deque = deque()

    @property
    def started(self) -> bool:
        return self._writer is not None or self._file is not None

    def _open(self, output) -> None:
        if isinstance(output, tuple):  # formatted parts: the header, then their bytes
            schema = output[0]
            self._file = self.sink if hasattr(self.sink, "write") else \
                open(self.sink, "wb", buffering=0)
            header = pa.BufferOutputStream()
            pacsv.write_csv(schema.empty_table(), header)
            self._file.write(header.getvalue().to_pybytes())
            return
        schema = output if isinstance(output, pa.Schema) else output.schema
        if self.kind == "parquet":
            schema = pa.schema([pa.field(f.name, f.type.value_type)
                                if pa.types.is_dictionary(f.type) else f for f in schema])
            self._writer = pq.ParquetWriter(self.sink, schema)
        else:
            self._writer = pacsv.CSVWriter(self.sink, schema)

    def _write(self, output) -> None:
        if isinstance(output, tuple):
            _append_file(self._file, output[1])
        elif self.kind == "parquet":
            self._writer.write_table(output.cast(self._writer.schema))
        else:
            self._writer.write_table(output)

    def write(self, output) -> None:
        while len(self._pending) >= self.depth:
            self._pending.popleft().result()
        if not self.started:
            self._open(output)
        self._pending.append(self._pool.submit(self._write, output))

    def write_schema(self, schema: pa.Schema) -> None:
        self._open(schema)

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
        elif self._file is not None:
            if self._file is self.sink:
                self._file.flush()
            else:
                self._file.close()

    def close(self) -> None:
        """Wait for every write, then close the file (raising any write's error)."""
        try:
            while self._pending:
                self._pending.popleft().result()
            self._close_file()
        finally:
            self._pool.shutdown(wait=True)

    def abort(self) -> None:
        """Stop after the write in flight and close the file, ignoring errors: the
        caller deletes it."""
        for f in self._pending:
            f.cancel()
        self._pool.shutdown(wait=True)
        try:
            self._close_file()
        except Exception:  # noqa: BLE001  the temporary file is deleted anyway
            pass


def _append_file(out, path: str) -> None:
    """Append the file at ``path`` to ``out`` and delete it; in the kernel where it can."""
    with open(path, "rb") as src:
        size = os.fstat(src.fileno()).st_size
        copied = 0
        try:
            out.flush()
            while copied < size:
                n = os.copy_file_range(src.fileno(), out.fileno(), size - copied)
                if n == 0:
                    break
                copied += n
        except (OSError, AttributeError, ValueError):  # another filesystem, a pipe...
            pass
        if copied < size:
            src.seek(copied)
            shutil.copyfileobj(src, out, 1 << 20)
    os.unlink(path)


def _log_predictions(store, rows: pd.DataFrame, part: _Part, scorer: Scorer) -> None:
    """The scored rows, with their plan as read, into the store's prediction log."""
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
