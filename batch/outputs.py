"""Where scored rows and rejected ones go: the output file, written in order by a background
thread, and the rejects file. Both are written under temporary names and put in place only
when complete.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

import pyarrow as pa
import pyarrow.csv as pacsv

from batch.cells import safe_schema, safe_table, safe_text

if TYPE_CHECKING:
    import pyarrow.parquet as pq


class Output:
    """The scored file, written in input order by one background thread.

    Writing overlaps scoring (pyarrow formats and writes outside the GIL). At most
    ``depth`` chunks wait, which keeps memory bounded; a failed write is raised at the next
    call. A chunk arrives as a table, or for CSV as ``(schema, path)`` of rows a worker
    already formatted, which are copied in by the kernel. Text columns are
    dictionary-encoded; for Parquet they are cast to plain strings.
    """

    def __init__(self, sink, kind: str, depth: int = 2) -> None:
        self.sink, self.kind, self.depth = sink, kind, depth
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
        self._file: BinaryIO | None = None  # or our own file, when workers format the CSV
        self._owned: BinaryIO | None = None  # the file opened here for a writer's sink
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="riskmodel-write")
        self._pending: deque = deque()

    @property
    def started(self) -> bool:
        return self._writer is not None or self._file is not None

    def _open(self, output) -> None:
        if isinstance(output, tuple):  # formatted parts: the header, then their bytes
            schema = output[0]
            self._file = self.sink if hasattr(self.sink, "write") else \
                open_untruncated(self.sink, buffering=0)
            header = pa.BufferOutputStream()
            pacsv.write_csv(safe_schema(schema).empty_table(), header)
            self._file.write(header.getvalue().to_pybytes())
            return
        schema = output if isinstance(output, pa.Schema) else output.schema
        sink = self.sink
        if not hasattr(sink, "write"):
            sink = self._owned = open_untruncated(sink)
        if self.kind == "parquet":
            import pyarrow.parquet as pq  # only for Parquet: a CSV run does not load it

            schema = pa.schema([pa.field(f.name, f.type.value_type)
                                if pa.types.is_dictionary(f.type) else f for f in schema])
            self._writer = pq.ParquetWriter(sink, schema)
        else:  # text cells a spreadsheet shows, never runs (batch/cells.py)
            self._writer = pacsv.CSVWriter(sink, safe_schema(schema))

    def _write(self, output) -> None:
        if isinstance(output, tuple):
            if self._file is None:
                raise RuntimeError("a formatted part came before the output file was opened")
            _append_file(self._file, output[1])
            return
        if self._writer is None:
            raise RuntimeError("a table came before the output file was opened")
        if self.kind == "parquet":
            self._writer.write_table(output.cast(self._writer.schema))
        else:
            self._writer.write_table(safe_table(output))

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
            try:
                self._writer.close()
            finally:
                if self._owned is not None:
                    self._owned.close()
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


def open_untruncated(path, buffering: int = -1) -> BinaryIO:
    """``path`` opened to be written from its start. An empty file (the temporary output
    the caller has just created) is opened without truncating it: on ext4, a file truncated
    and written again is flushed to disk when it is closed (the ``auto_da_alloc``
    heuristic for files replaced by truncation), which made closing a 950 MB output take
    0.3-0.8 s here, and deleting part files after it slower."""
    try:
        empty = os.path.getsize(path) == 0 and os.path.isfile(path)
    except OSError:  # not there yet
        empty = False
    return open(path, "r+b" if empty else "wb", buffering=buffering)


def _append_file(out: BinaryIO, path: str) -> None:
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


class Rejects:
    """The rejects file: row number in the input, column, value, reason (in ``locale``; text
    cells made safe for a spreadsheet, :mod:`batch.cells`)."""

    def __init__(self, path: Path, locale: str = "en") -> None:
        self.path, self.locale = path, locale
        self.tmp = path.with_name(f".{path.name}.part")
        self._f: TextIO | None = None
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
                              *map(safe_text, (cid if isinstance(cid, str) else "", e.column,
                                               "" if e.received is None else str(e.received),
                                               e.message_in(self.locale)))])
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


def default_rejects(dst: str | Path) -> Path:
    """Where rejected rows go when not told: beside the output, ``NAME.rejects.csv``
    (``rejects.csv`` in the working folder when the output is standard output)."""
    if str(dst) == "-":
        return Path("rejects.csv")
    dst = Path(dst)
    return dst.with_name(dst.stem + ".rejects.csv")


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: by identity when both exist (hard links,
    symlinks, another spelling of the path), else by their resolved paths."""
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:  # one is not there (yet)
        pass
    return a.resolve() == b.resolve()


def check_paths(**files: str | Path | None) -> None:
    """Refuse a run whose files clash (the output as its own rejects file, a report over
    the input...) before anything is written. ``files`` maps a name for the message to
    a path; ``None`` and ``-`` (standard input or output) are left out."""
    named = [(what.replace("_", " "), Path(p)) for what, p in files.items()
             if p is not None and str(p) != "-"]
    for i, (what_a, a) in enumerate(named):
        for what_b, b in named[i + 1:]:
            if same_file(a, b):
                where = "" if str(a) == str(b) else f" (both are {b.resolve()})"
                raise ValueError(f"the {what_b} {b} is the same file as the {what_a} "
                                 f"{a}{where}: one would overwrite the other; give them "
                                 f"different names")
