"""Reading a plan file in chunks: arrow tables as read (CSV cells as text), parsed from blocks
of whole CSV records, with the next chunk read on a thread while this one is scored.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.csv as pacsv

from riskmodel import DataError

T = TypeVar("T")

CHUNK_ROWS = 100_000
HEADER_BYTES = 1 << 20  # the header row ends within this many bytes
BLOCK_BYTES = 32 << 20  # a block of records read at once is at most about this long
RECORD_BYTES = 64 << 20  # and one record (a campaign) at most this long


def _mib(n: int) -> str:
    return f"{n >> 20} MiB"


class RecordError(DataError):
    """A broken record in a chunk of a CSV file, its row counted from the chunk's start:
    the reader that knows how many rows came before names the file's row
    (:meth:`in_file`). It pickles, so it can cross processes."""

    def __init__(self, path: str, row: int, problem: str, hint: str) -> None:
        self.path, self.row, self.problem, self.hint = path, row, problem, hint
        super().__init__(f"{path}: row {row} of a chunk: {problem}. {hint}")

    def __reduce__(self):
        return type(self), (self.path, self.row, self.problem, self.hint)

    def in_file(self, rows_before: int) -> DataError:
        """The error naming the file's row (campaigns after the header, from 1, as the
        rejects file counts them)."""
        return DataError(f"{self.path}: row {self.row + rows_before}: {self.problem}. "
                         f"{self.hint}")


_UTF8_HINT = ("Save the file as UTF-8 (in Excel: Save As, \"CSV UTF-8\") and score it "
              "again")
_FIELDS_HINT = ("Every row needs one value per column of the header: look for a missing or "
                "extra comma, or a quote that is never closed")


def _header_bytes(path: Path) -> tuple[bytes, int]:
    """The header row's bytes (its line break left out) and where the records start."""
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES + 1)
    end = _record_end(head, last=False)
    if end >= 0:
        return head[:end], end
    if len(head) > HEADER_BYTES:
        raise DataError(
            f"{path}: the header row (the column names) does not end within its first "
            f"{_mib(HEADER_BYTES)}: expected a CSV text file whose first line names the "
            f"columns (campaign_id, marketplace, ...). Is it another kind of file, or a "
            f"quote in the header that is never closed?")
    return head, len(head)  # a header and nothing else, without a final line break


def csv_header(path: Path) -> list[str]:
    raw, _ = _header_bytes(path)
    try:
        text = raw.decode("utf-8-sig")  # a spreadsheet's BOM is not part of a name
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: the header row (the column names) is not UTF-8 text "
                        f"(byte 0x{raw[e.start]:02x} at position {e.start}). "
                        f"{_UTF8_HINT}") from None
    if "\x00" in text:
        raise DataError(f"{path}: the header row holds NUL bytes: this is not a CSV text "
                        f"file (a CSV's first line names the columns: campaign_id, "
                        f"marketplace, ...)")
    try:
        names = next(csv.reader(io.StringIO(text, newline="")), None)
    except csv.Error as e:  # a name over the csv module's field limit (128 KiB)...
        raise DataError(f"{path}: the header row cannot be read as column names ({e}): "
                        f"the first line of the file must name the columns (campaign_id, "
                        f"marketplace, ...)") from None
    if not names:
        raise DataError(f"{path} is empty: expected a header row and campaigns")
    return names


def csv_names(path: Path) -> list[str]:
    names = csv_header(path)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{path} has duplicate column names: {', '.join(dup)}")
    return names


def input_names(path: Path) -> list[str]:
    """The column names of an input file: a Parquet file's schema, a CSV file's header."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq  # only for Parquet: a CSV run does not load it

        return pq.ParquetFile(path).schema_arrow.names
    return csv_names(path)


def csv_options(names: list[str]) -> tuple[pacsv.ParseOptions, pacsv.ConvertOptions]:
    """How every reader here parses CSV: every cell as text, quoted line breaks allowed."""
    return (pacsv.ParseOptions(newlines_in_values=True),
            pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                 strings_can_be_null=False))


def read_chunks(path: Path, chunk_rows: int) -> Iterator[pa.Table]:
    """Chunks of the input as arrow tables, as read (CSV cells as text); a broken CSV
    record is a :class:`DataError` naming its row in the file."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield pa.Table.from_batches([batch])
        return
    rows = 0
    for block in csv_blocks(path, chunk_rows):
        try:
            table = block.read()
        except RecordError as e:
            raise e.in_file(rows) from None
        rows += table.num_rows
        yield table


_ROW = re.compile(r"Row #(\d+): ")
_COLUMN = re.compile(r"In CSV column #(\d+): ")


@dataclass(frozen=True)
class CsvBlock:
    """Whole CSV records at ``offset`` of ``path`` (no header): one chunk, parsed on its own
    (so a broken record is named by its row).
    ``too_long``: the record after these is longer than ``RECORD_BYTES``."""

    path: str
    offset: int
    length: int
    names: tuple[str, ...]
    too_long: bool = False

    def read(self) -> pa.Table:
        """The records as a table (every cell text). A broken record is a
        :class:`RecordError` naming its row in this block."""
        if self.too_long and self.length == 0:
            raise self._too_long(1)
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(self.length)
        table = self.parse(data)
        if self.too_long:
            raise self._too_long(table.num_rows + 1)
        return table

    def parse(self, data: bytes) -> pa.Table:
        """This block's bytes (read by whoever has the file) as a table; a broken record is
        a :class:`RecordError` naming its row in this block."""
        try:  # one thread: the scoring thread is busy anyway, and it names rows
            table = self._parse(data, 1 << 20)
        except pa.ArrowInvalid:
            # again as one block: a record longer than pyarrow's block reads whole, and a
            # broken one is named by its row
            try:
                table = self._parse(data, len(data) + 1)
            except pa.ArrowInvalid as e:
                raise self._error(str(e)) from None
        return table

    def read_nothing(self) -> pa.Table:
        """A block that is only a record too long to read: its error, at its row."""
        raise self._too_long(1)

    def _too_long(self, row: int) -> RecordError:
        return RecordError(self.path, row, f"the record is longer than {_mib(RECORD_BYTES)}",
                           "A campaign's row is never that long: most likely a quote opened "
                           "in this row is never closed, so the rest of the file reads as "
                           "one value; or the file is not CSV text")

    def _parse(self, data: bytes, block_size: int) -> pa.Table:
        parse, convert = csv_options(list(self.names))
        return pacsv.read_csv(pa.py_buffer(data), parse_options=parse,
                              convert_options=convert,
                              read_options=pacsv.ReadOptions(
                                  column_names=list(self.names), use_threads=False,
                                  block_size=block_size))

    def _error(self, message: str) -> DataError:
        """pyarrow's message for a broken record, as one naming the row and what to do."""
        row = _ROW.search(message)
        if row is None:  # no row to name (pyarrow names one whenever it parses serially)
            return DataError(f"{self.path}: {message}")
        problem = _ROW.sub("", message, count=1)
        column = _COLUMN.search(problem)
        if column is not None:
            problem = _COLUMN.sub("", problem, count=1)
            i = int(column.group(1))
            name = self.names[i] if i < len(self.names) else f"#{i + 1}"
            problem = f"column {name}: {problem}"
        hint = _FIELDS_HINT
        if "invalid UTF8" in problem:
            problem, hint = problem.replace("CSV conversion error to string: invalid UTF8 "
                                            "data", "the text is not UTF-8"), _UTF8_HINT
        return RecordError(self.path, int(row.group(1)), problem, hint)


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
    ``chunk_rows`` records each (sized from the first MiB's records), at most about
    ``BLOCK_BYTES`` unless one record is longer; a record longer than ``RECORD_BYTES``
    ends the blocks with one that says so when read (its row is known only then)."""
    names = tuple(csv_names(path))
    _, pos = _header_bytes(path)
    with open(path, "rb") as f:
        f.seek(pos)
        sample = f.read(1 << 20)
        if not sample.strip():
            return  # a header and no records
        records = sample.count(b"\n")
        block_bytes = BLOCK_BYTES if records == 0 else \
            max(1, min(BLOCK_BYTES, chunk_rows * len(sample) // records))
        while True:
            f.seek(pos)
            buf = f.read(block_bytes)
            if len(buf) < block_bytes:
                if buf.strip():
                    yield CsvBlock(str(path), pos, len(buf), names)
                return
            while (cut := _record_end(buf, last=True)) < 0:  # one long record
                if len(buf) > RECORD_BYTES:
                    yield CsvBlock(str(path), pos, 0, names, too_long=True)
                    return
                more = f.read(block_bytes)
                if not more:
                    cut = len(buf)
                    break
                buf += more
            yield CsvBlock(str(path), pos, cut, names)
            pos += cut


def prefetch(chunks: Iterator[T], depth: int = 1) -> Generator[T, None, None]:
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
            try:
                close()
            except ValueError:  # "generator already executing": an interrupt (Ctrl-C) cut
                pass  # the pool's wait short while a read ran; the process is ending
