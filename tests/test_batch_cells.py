"""Spreadsheet-safe CSV cells (batch/cells.py)."""

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.cells import raw_table, raw_text, safe_table, safe_text


@pytest.mark.parametrize("cell, written", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(1)", "'@SUM(1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("'already", "''already"),
    ("-5", "-5"), ("+1.5e3", "+1.5e3"), ("-.5", "-.5"), ("-0.25", "-0.25"),
    ("-inf", "'-inf"), ("plain", "plain"), ("", ""), ("a=b", "a=b"),
], ids=["equals", "plus", "minus-formula", "at", "tab", "carriage-return", "quote",
        "negative", "signed-exponent", "negative-fraction", "negative-decimal", "minus-word",
        "plain", "empty", "inner-equals"])
def test_a_formula_cell_gets_a_quote_and_a_number_does_not(cell, written):
    assert safe_text(cell) == written
    assert raw_text(written) == cell


@given(st.text(max_size=12))
def test_making_safe_is_undone_exactly(cell):
    assert raw_text(safe_text(cell)) == cell
    assert safe_text(cell)[:1] not in set("=+-@\t\r") or float(safe_text(cell)) == float(cell)


def test_tables_text_cells_names_and_dictionaries_and_not_numbers():
    table = pa.table({
        "=name": ["=1+1", "-5", None, "ok"],
        "risk": pa.array([-0.5, 0.1, 0.2, 0.3]),
        "reason": pa.DictionaryArray.from_arrays(pa.array([0, 1, 0, 1], pa.int32()),
                                                 pa.array(["@x", "fine"])),
    })
    safe = safe_table(table)
    assert safe.column_names == ["'=name", "risk", "reason"]
    assert safe.column("'=name").to_pylist() == ["'=1+1", "-5", None, "ok"]
    assert safe.column("risk").to_pylist() == [-0.5, 0.1, 0.2, 0.3]
    assert safe.column("reason").type == table.column("reason").type
    assert safe.column("reason").to_pylist() == ["'@x", "fine", "'@x", "fine"]
    back = raw_table(safe.cast(pa.schema([("'=name", pa.string()), ("risk", pa.float64()),
                                          ("reason", pa.string())])))
    assert back.to_pylist() == table.cast(back.schema.remove(0).insert(
        0, pa.field("=name", pa.string()))).to_pylist()


def test_a_table_with_nothing_to_change_is_returned_as_it_is():
    table = pa.table({"a": ["x", "-1"], "b": [1, -2]})
    assert safe_table(table) is table
