"""A plan file as a Dask DataFrame: CSV split into blocks of whole records, Parquet into
runs of row groups, each read by a worker with pyarrow, from a local path or any fsspec URL
the installed filesystems support.

Dask's own ``read_csv`` splits a file at the first line break after each block boundary,
which cuts a record whose quoted field holds a line break (its documentation says to read
such files unsplit). Here the blocks end where :mod:`batch.chunks` ends them: at a line
break with an even number of quote characters before it, found in one pass over the file.
Every cell is read as the one-process engine reads it (CSV cells as text, Parquet values as
stored), and the partitions carry the arrow types (``pd.ArrowDtype``), so a worker gets
back exactly the table the one-process engine would score.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from batch import chunks
from batch.chunks import CHUNK_ROWS, CsvBlock, _record_end
from riskmodel import DataError

KINDS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class Piece:
    """One partition of the input: ``length`` bytes at ``offset`` of a CSV file (whole
    records, no header), or some row groups of a Parquet file."""

    path: str
    offset: int = 0
    length: int = 0
    row_groups: tuple[int, ...] = ()
    too_long: bool = False  # a CSV record at ``offset`` longer than chunks.RECORD_BYTES


@dataclass(frozen=True)
class Source:
    """A plan file opened for Dask: where it is, its columns as read, its partitions."""

    url: str
    fs: Any  # an fsspec filesystem (pickled to the workers with each task)
    kind: str  # "csv" or "parquet"
    schema: pa.Schema  # the columns as the one-process engine reads them
    pieces: tuple[Piece, ...]

    @property
    def names(self) -> list[str]:
        return self.schema.names


def open_source(url: str, chunk_rows: int = CHUNK_ROWS) -> Source:
    """The plan file at ``url`` (a path or an fsspec URL; Parquet may be a folder of
    ``.parquet`` files), split into partitions of about ``chunk_rows`` rows."""
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url)
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if fs.isdir(path):
        files = sorted(p for p in fs.find(path) if p.endswith(".parquet")
                       and not p.rsplit("/", 1)[-1].startswith((".", "_")))
        if not files:
            raise DataError(f"{url} is a folder without .parquet files")
        return _parquet_source(url, fs, files, chunk_rows)
    if suffix not in KINDS:
        raise ValueError(f"{url} has an unknown file type: expected .csv or .parquet")
    if not fs.isfile(path):
        raise DataError(f"{url} does not exist")
    if fs.size(path) == 0:
        raise DataError(f"{url} is empty: expected a header row and campaigns")
    if KINDS[suffix] == "parquet":
        return _parquet_source(url, fs, [path], chunk_rows)
    return _csv_source(url, fs, path, chunk_rows)


def _parquet_source(url: str, fs, files: list[str], chunk_rows: int) -> Source:
    pieces: list[Piece] = []
    schema = None
    for path in files:
        with fs.open(path, "rb") as f:
            meta = pq.ParquetFile(f)
            if schema is None:
                schema = meta.schema_arrow
            elif not meta.schema_arrow.equals(schema):
                raise DataError(f"{path} has other columns than {files[0]}: the files of a "
                                f"Parquet folder must share their columns")
            groups: list[int] = []
            rows = 0
            for g in range(meta.metadata.num_row_groups):
                groups.append(g)
                rows += meta.metadata.row_group(g).num_rows
                if rows >= chunk_rows:
                    pieces.append(Piece(path, row_groups=tuple(groups)))
                    groups, rows = [], 0
            if groups:
                pieces.append(Piece(path, row_groups=tuple(groups)))
    assert schema is not None
    return Source(url, fs, "parquet", schema, tuple(pieces))


def _csv_source(url: str, fs, path: str, chunk_rows: int) -> Source:
    with fs.open(path, "rb") as f:
        head = f.read(1 << 20)
        while (start := _record_end(head, last=False)) < 0:  # the header's end
            more = f.read(1 << 20)
            if not more:
                start = len(head)
                break
            head += more
        names = _header(url, head[:start])
        pieces: list[Piece] = []
        size = fs.size(path)
        sample = head[start:]
        # capped: a few wide rows first must not make one huge block
        block = min(chunks.BLOCK_BYTES,
                    max(1, chunk_rows * len(sample) // max(1, sample.count(b"\n"))))
        pos = start
        while pos < size:
            f.seek(pos)
            buf = f.read(block)
            if pos + len(buf) >= size:
                if buf.strip():
                    pieces.append(Piece(path, pos, len(buf)))
                break
            while (cut := _record_end(buf, last=True)) < 0:  # one long record
                if len(buf) > chunks.RECORD_BYTES:  # refused at its row, not read on
                    pieces.append(Piece(path, pos, 0, too_long=True))
                    pos = size
                    break
                more = f.read(block)
                if not more:
                    cut = len(buf)
                    break
                buf += more
            if pos < size:
                pieces.append(Piece(path, pos, cut))
                pos += cut
    schema = pa.schema([(n, pa.string()) for n in names])
    return Source(url, fs, "csv", schema, tuple(pieces))


def _header(url: str, raw: bytes) -> list[str]:
    """The column names of a CSV header record, as :func:`batch.chunks.csv_names` reads
    them (a spreadsheet's byte-order mark is not part of the first)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{url}: the header is not UTF-8 text ({e})") from None
    try:
        names = next(csv.reader(io.StringIO(text, newline="")))
    except StopIteration:
        raise DataError(f"{url} is empty: expected a header row and campaigns") from None
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{url} has duplicate column names: {', '.join(dup)}")
    return names


def read_piece(piece: Piece, source: Source) -> pd.DataFrame:
    """One partition, read by a worker: the table as the one-process engine reads it, as a
    pandas frame of arrow types (so the table comes back unchanged)."""
    return read_table(piece, source).to_pandas(types_mapper=pd.ArrowDtype)


def read_table(piece: Piece, source: Source) -> pa.Table:
    if source.kind == "parquet":
        with source.fs.open(piece.path, "rb") as f:
            table = pq.ParquetFile(f).read_row_groups(list(piece.row_groups))
        return table.replace_schema_metadata(source.schema.metadata)
    block = CsvBlock(source.url, piece.offset, piece.length, tuple(source.names),
                     too_long=piece.too_long)
    if piece.too_long:
        return block.read_nothing()
    with source.fs.open(piece.path, "rb") as f:
        f.seek(piece.offset)
        data = f.read(piece.length)
    # a broken record is a RecordError naming its row in this piece: the process that
    # knows how many rows came before names the file's row, as the one-process engine does
    return block.parse(data)


def plans_frame(source: Source):
    """The plan file as a Dask DataFrame, one partition per piece (nothing read yet)."""
    import dask.dataframe as dd

    meta = source.schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)
    return dd.from_map(read_piece, list(source.pieces), args=(source,), meta=meta,
                       enforce_metadata=False, label="read-plans")


def as_table(df: pd.DataFrame, source: Source) -> pa.Table:
    """A partition back as the arrow table it was read as."""
    table = pa.Table.from_pandas(df, schema=source.schema, preserve_index=False)
    return table.replace_schema_metadata(source.schema.metadata)
