"""Reading a plan file in chunks: arrow tables as read (CSV cells as text), or blocks of whole
CSV records that a worker process reads and parses itself.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from riskmodel import DataError

CHUNK_ROWS = 100_000


def csv_header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as f:  # a spreadsheet's BOM
        try:
            return next(csv.reader(f))
        except StopIteration:
            raise DataError(f"{path} is empty: expected a header row and campaigns") from None


def csv_names(path: Path) -> list[str]:
    names = csv_header(path)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{path} has duplicate column names: {', '.join(dup)}")
    return names


def csv_options(names: list[str]) -> tuple[pacsv.ParseOptions, pacsv.ConvertOptions]:
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
    names = csv_names(path)
    parse, convert = csv_options(names)
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
        parse, convert = csv_options(list(self.names))
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
    names = tuple(csv_names(path))
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
