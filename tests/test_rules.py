"""The rules of one value (riskmodel/rules.py): each written once, and every way of
applying it agrees with the reference, :meth:`Rule.parse`."""

import math
import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskmodel import SCHEMA
from riskmodel.rules import SLOW, Invalid, Rule, is_blank, number_checks, valid_identifier

NUMERIC = [c for c in SCHEMA.columns + SCHEMA.outcome_columns
           if c.kind in ("number", "integer")]


_JSONISH = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**53 - 3, max_value=2**60),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-200, 200),
    st.sampled_from(["", " ", "US", " US", "home", "x", "1", "true", "nan", "\t", "a\x00"]),
    st.text(max_size=5), st.just(10**400), st.just([1]), st.just({"a": 1}))


@settings(max_examples=400, deadline=None)
@given(col=st.sampled_from(SCHEMA.columns), value=_JSONISH, strict=st.booleans())
def test_the_fast_parser_agrees_with_the_full_one(col, value, strict):
    """Records take a per-column fast parser first; where it answers, the full parser must
    give the same value and no error, and the value must not count as blank."""
    rule = Rule(col)
    fast = rule.fast(value) if value is not None else SLOW
    if fast is SLOW:
        return
    assert not is_blank(value, False)
    try:
        full = rule.parse(value, strict)
    except Invalid as bad:
        pytest.fail(f"fast parser took {value!r} for {col.name}; full says {bad.problem}")
    assert full == fast and type(full) is type(fast)


@settings(max_examples=300, deadline=None)
@given(col=st.sampled_from(NUMERIC), x=st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6).map(float),
    st.sampled_from([0.0, -0.0, 1.0, -60.0, 180.0, 120.0, 1e308, -1e308, 0.5])))
def test_each_check_reads_a_float_and_an_array_alike(col, x):
    """A check is one expression: on a float and on an array of floats it must agree, and
    the fused test of the fast path must pass exactly the values no check fails."""
    rule = Rule(col)
    with np.errstate(invalid="ignore", over="ignore"):
        for problem, fails in rule._tests:
            assert bool(fails(x)) == bool(np.asarray(fails(np.array([x, x])))[0]), problem
    assert (rule.fast(x) is not SLOW) == (rule.problem(x) is None)


def test_number_checks_come_from_the_contract():
    bsr = number_checks(SCHEMA["bsr_top100_products"])
    assert [c.problem for c in bsr] == ["must be a finite number", "must be a whole number",
                                        "is out of range"]
    rule = Rule(SCHEMA["resource_value_usd"])  # > 0: the exclusive minimum
    assert rule.problem(0.0) == "is out of range" and rule.problem(0.01) is None
    assert Rule(SCHEMA["duration_days"]).problem(121.0) == "is out of range"
    assert Rule(SCHEMA["duration_days"]).problem(math.inf) == "must be a finite number"


def test_printable_ascii_is_a_valid_identifier():
    """The column path lets plain printable ASCII within the limit through without asking
    the identifier rule one cell at a time: this is why that holds."""
    assert all(valid_identifier(ch * 3, 128) for ch in string.printable[:95])
    assert not any(valid_identifier(ch, 128) for ch in "\t\n\r\x0b\x0c\x00\x7f")


@pytest.mark.parametrize("cells,problem", [
    (["12", "1_000"], None), (["12", "١٢"], None), (["3", "x"], "is not a number"),
    (["3", "1e999"], "must be a finite number"), (["3", "nan"], "must be a finite number"),
], ids=["underscore", "arabic-digits", "text", "overflow", "nan-text"])
def test_text_that_pyarrow_cannot_cast_is_read_by_the_rule(cells, problem):
    """Python's float() is the rule for a number in text; pyarrow's cast is only the fast
    way for the cells it can read."""
    col = SCHEMA["annual_sales_usd"]
    values, problems = Rule(col).parse_column(pd.Series(cells * 40, dtype="str"))
    reference = []
    for cell in cells:
        try:
            reference.append((Rule(col).parse(cell), None))
        except Invalid as bad:
            reference.append((math.nan, bad.problem))
    assert [p for _, p in reference] == [None, problem]
    for i, (value, expected) in enumerate(reference):
        assert (problems[i] or None) == expected
        assert (math.isnan(values[i]) and math.isnan(value)) or values[i] == value
