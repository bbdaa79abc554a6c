"""CSV cells a spreadsheet shows as text, never runs as a formula.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken
for a formula by Excel, LibreOffice and Google Sheets, quoted or not (CSV injection). As
OWASP recommends, such a text cell is written with a single quote in front, which a
spreadsheet shows and never evaluates; a plain number (``-5``, ``+1.5e3``) stays as it is,
and so does every numeric column. A cell that already starts with a single quote gets one
more, so the change is undone exactly by dropping one leading quote from every text cell
that has one (:func:`raw_text`). The Parquet output keeps the values as read.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: What a cell starts with when a spreadsheet would run it: the OWASP list, plus the quote
#: this module adds itself (so that undoing it is exact).
TRIGGERS = "=+-@\t\r'"
# a plain decimal number, which a spreadsheet reads as a number and never runs
_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_NUMBER_RE = re.compile(_NUMBER)


def safe_text(value: str) -> str:
    """``value`` as a CSV cell a spreadsheet will not evaluate: a single quote in front
    when it starts with a formula character and is not a plain number."""
    if value and value[0] in TRIGGERS and not _NUMBER_RE.match(value):
        return "'" + value
    return value


def raw_text(value: str) -> str:
    """Undo :func:`safe_text`: the value as it was before it was written."""
    return value[1:] if value.startswith("'") else value


_IS_TRIGGER = np.zeros(256, dtype=bool)
_IS_TRIGGER[list(TRIGGERS.encode())] = True


def _first_bytes(values: pa.Array) -> np.ndarray:
    """Whether each cell starts with a trigger, read from the arrow buffers at once (a
    regular expression per cell costs more than writing the CSV)."""
    n = len(values)
    _, offsets, data = values.buffers()
    if data is None or n == 0:
        return np.zeros(n, dtype=bool)
    width = 8 if pa.types.is_large_string(values.type) else 4
    off: np.ndarray = np.frombuffer(offsets, dtype=np.int64 if width == 8 else np.int32,
                                    count=n + 1, offset=values.offset * width)
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size == 0:
        return np.zeros(n, dtype=bool)
    starts, ends = off[:-1].astype(np.int64), off[1:].astype(np.int64)
    hit = _IS_TRIGGER[raw[np.minimum(starts, raw.size - 1)]] & (ends > starts)
    if values.null_count:
        hit &= values.is_valid().to_numpy(zero_copy_only=False)
    return hit


def _safe_strings(values: pa.Array) -> pa.Array:
    rows = np.flatnonzero(_first_bytes(values))
    if rows.size == 0:  # the usual case: nothing to change, nothing copied
        return values
    numbers = pc.match_substring_regex(values.take(pa.array(rows)), _NUMBER)
    rows = rows[~numbers.to_numpy(zero_copy_only=False)]
    if rows.size == 0:  # negative numbers only
        return values
    risky = np.zeros(len(values), dtype=bool)
    risky[rows] = True
    quoted = pc.binary_join_element_wise("'", values, "")
    return pc.if_else(pa.array(risky), quoted, values)


def _safe_array(values: pa.Array) -> pa.Array:
    t = values.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _safe_strings(values)
    if pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type)
                                      or pa.types.is_large_string(t.value_type)):
        words = _safe_strings(values.dictionary)  # each distinct text once
        if words is values.dictionary:
            return values
        return pa.DictionaryArray.from_arrays(values.indices, words)
    return values  # numbers, booleans, dates: a spreadsheet reads them as values


def safe_table(table: pa.Table) -> pa.Table:
    """``table`` with every text cell and column name made safe (:func:`safe_text`)."""
    names = [safe_text(n) for n in table.column_names]
    changed = names != table.column_names
    columns = []
    for col in table.columns:
        before = col.chunks
        after = [_safe_array(c) for c in before]
        if any(a is not b for a, b in zip(after, before, strict=True)):
            col = pa.chunked_array(after, type=col.type)
            changed = True
        columns.append(col)
    return pa.Table.from_arrays(columns, names=names) if changed else table


def safe_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with its column names made safe, for a header written on its own."""
    return pa.schema([f.with_name(safe_text(f.name)) for f in schema])


def raw_table(table: pa.Table) -> pa.Table:
    """Undo :func:`safe_table` on a CSV this package wrote: the text cells as scored."""
    names = [raw_text(n) for n in table.column_names]
    columns = []
    for col in table.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pc.replace_substring_regex(col, "^'", "", max_replacements=1)
        columns.append(col)
    return pa.Table.from_arrays(columns, names=names)
