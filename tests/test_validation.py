import csv
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskmodel import SCHEMA, SchemaError, validate_campaigns
from riskmodel.validation import SMALL

GOOD = {
    "campaign_id": "c-1", "marketplace": "US", "category": "home",
    "campaign_type": "deal_of_the_day", "duration_days": 1, "goal_alignment_score": 0.8,
    "mou_signed": True, "dedicated_contact": True, "weekly_sync": False,
    "material_delay_days": 3.5, "brand_avg_past_delay_days": None,
    "custom_video_required": False, "resource_value_usd": 20000,
    "committed_ad_budget_usd": 7000, "attribution_enabled": True, "utm_configured": None,
    "brand_analytics_active": True, "annual_sales_usd": 900000, "bsr_top100_products": 4,
    "monthly_ad_spend_usd": 6000, "has_a_plus_content": True, "has_video_main_image": False,
    "prior_coop_campaigns": 2,
}

BAD = [
    ("unknown-category", "marketplace", "XX", "is not an allowed value"),
    ("lower-case-category", "campaign_type", "Deal_Of_The_Day", "is not an allowed value"),
    ("out-of-range-high", "goal_alignment_score", 1.5, "is out of range"),
    ("out-of-range-low", "material_delay_days", -61, "is out of range"),
    ("zero-resource-value", "resource_value_usd", 0, "is out of range"),
    ("negative-budget", "committed_ad_budget_usd", -500, "is out of range"),
    ("non-numeric", "annual_sales_usd", "lots", "is not a number"),
    ("fractional-integer", "bsr_top100_products", 2.5, "must be a whole number"),
    ("nan", "material_delay_days", float("nan"), "must be a finite number"),
    ("infinity", "resource_value_usd", float("inf"), "must be a finite number"),
    ("nan-text", "duration_days", "NaN", "must be a finite number"),
    ("bool-as-number", "duration_days", True, "must be a number, not a boolean"),
    ("bad-boolean", "mou_signed", "maybe", "is not a boolean"),
    ("required-empty", "goal_alignment_score", None, "is required"),
    ("id-too-long", "campaign_id", "x" * 129, "is not a valid identifier"),
    ("id-not-string", "campaign_id", 17, "must be a string"),
]


@pytest.mark.parametrize("case,column,value,problem", BAD, ids=[b[0] for b in BAD])
def test_bad_value_in_a_record_is_named_with_row_column_and_allowed(case, column, value,
                                                                   problem):
    rec = dict(GOOD, **{column: value})
    v = validate_campaigns([GOOD, rec])
    assert [(e.row, e.column, e.problem) for e in v.errors] == [(2, column, problem)]
    assert v.valid.tolist() == [True, False]
    err = v.errors[0]
    assert err.allowed == SCHEMA[column].allowed()
    assert "(row 2)" in err.message and column in err.message
    with pytest.raises(SchemaError) as info:
        v.raise_for_errors()
    assert isinstance(info.value, ValueError)
    assert info.value.errors == v.errors


def test_message_names_problem_expectation_and_value():
    v = validate_campaigns([dict(GOOD, committed_ad_budget_usd=-500)])
    assert v.errors[0].message == ("committed_ad_budget_usd is out of range (row 1): "
                                   "expected a number ≥ 0. Got -500 instead.")


def test_empty_optional_fields_are_valid_and_unknown():
    rec = {k: v for k, v in GOOD.items() if SCHEMA[k].required}
    v = validate_campaigns([rec])
    assert v.errors == []
    assert math.isnan(v.batch["mou_signed"][0])
    assert v.batch["marketplace"][0] == -1


def test_missing_required_column_in_a_frame_is_one_error_for_the_column():
    df = pd.DataFrame([GOOD] * 3).drop(columns=["material_delay_days"])
    v = validate_campaigns(df)
    assert [(e.row, e.column) for e in v.errors] == [(None, "material_delay_days")]
    assert "required column" in v.errors[0].message
    assert not v.valid.any()


def test_every_problem_is_listed_not_only_the_first():
    rec = dict(GOOD, marketplace="XX", duration_days=0, mou_signed="perhaps")
    v = validate_campaigns([rec])
    assert {e.column for e in v.errors} == {"marketplace", "duration_days", "mou_signed"}


def test_unknown_columns_are_ignored_and_named():
    v = validate_campaigns([dict(GOOD, colour="red")])
    assert v.errors == [] and v.ignored_columns == ["colour"]


def test_csv_text_is_parsed(tmp_path):
    path = tmp_path / "plans.csv"
    pd.DataFrame([GOOD, dict(GOOD, marketplace="XX")]).to_csv(path, index=False)
    v = validate_campaigns(path)
    assert [(e.row, e.column, e.received) for e in v.errors] == [(2, "marketplace", "XX")]
    assert v.batch["mou_signed"][0] == 1.0


# ------------------------------------------------------------------ both paths agree

values = {
    "number": st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-100, 10**7),
                        st.sampled_from(["", "12", "abc", "inf", "1e3", " 4 "])),
    "integer": st.one_of(st.none(), st.integers(-5, 200), st.floats(-5, 200),
                         st.sampled_from(["3", "3.5", "x"])),
    "boolean": st.one_of(st.none(), st.booleans(),
                         st.sampled_from(["true", "False", "yes", "0", "maybe", ""])),
    "category": st.one_of(st.none(), st.sampled_from(["US", "home", "deal_of_the_day",
                                                      "XX", "", " US"])),
    "string": st.one_of(st.text(min_size=0, max_size=5), st.none()),
}


@st.composite
def messy_records(draw):
    n = draw(st.integers(1, 4))
    return [{c.name: draw(values[c.kind]) for c in SCHEMA.columns} for _ in range(n)]


@settings(max_examples=60, deadline=None)
@given(messy_records())
def test_per_value_and_per_column_paths_agree(records):
    df = pd.DataFrame(records, dtype=object)
    small = validate_campaigns(df)
    big = validate_campaigns(pd.concat([df] * (SMALL // len(df) + 1), ignore_index=True))
    n = len(df)
    assert [(e.row, e.column, e.problem) for e in small.errors] == \
        [(e.row, e.column, e.problem) for e in big.errors if e.row is None or e.row <= n]
    for name, col in small.batch.columns.items():
        other = big.batch.columns[name][:n]
        if col.dtype == object:
            assert list(col[small.valid]) == list(other[small.valid]), name
        else:
            np.testing.assert_array_equal(col[small.valid], other[small.valid], err_msg=name)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=messy_records())
def test_text_read_by_pyarrow_validates_like_the_pandas_path(tmp_path_factory, records):
    """CSV text takes pyarrow's fast path in the batch reader; the same cells as plain
    Python strings take the pandas path. Both must find the same problems and values."""
    from batch.chunks import read_chunks

    path = tmp_path_factory.mktemp("csv") / "plans.csv"
    # every field quoted: pandas leaves a lone "\r" unquoted, which no reader can tell
    # from a line break
    pd.DataFrame(records, dtype=object).to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    arrow_df = next(read_chunks(path, 1000)).to_pandas()
    plain = arrow_df.astype(object)
    big = SMALL + 1  # both frames through the per-column path
    fast = validate_campaigns(pd.concat([arrow_df] * big, ignore_index=True))
    slow = validate_campaigns(pd.concat([plain] * big, ignore_index=True))
    assert [(e.row, e.column, e.problem) for e in fast.errors] == \
        [(e.row, e.column, e.problem) for e in slow.errors]
    for name, col in fast.batch.columns.items():
        other = slow.batch.columns[name]
        if col.dtype == object:
            assert list(col[fast.valid]) == list(other[fast.valid]), name
        else:
            np.testing.assert_array_equal(col[fast.valid], other[fast.valid], err_msg=name)
