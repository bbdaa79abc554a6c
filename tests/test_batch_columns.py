"""The flat output columns of a scored chunk (batch/columns.py)."""

import pandas as pd

from batch.columns import output_columns, score_chunk
from riskmodel import FAMILIES, SCHEMA


def test_out_of_depth_column_lists_each_flagged_factor(history_df, scorer):
    df = history_df[list(SCHEMA.names)].head(4).copy()
    high = scorer.model.coverage_["factors"]["material_delay_days"]["high"]
    df.loc[1, "material_delay_days"] = min(high + 10, 180)
    valid, errors, cols, e = score_chunk(scorer, df, 3)
    assert errors == [] and valid.all()
    assert list(cols) == output_columns(3, FAMILIES)
    cells = cols["out_of_depth"].to_pylist()
    rows = e.rows()
    for cell, r in zip(cells, rows, strict=True):
        assert cell == ";".join(f"{d.factor}:{d.code}" for d in r.out_of_depth)
    assert "material_delay_days:beyond_training_range" in cells[1].split(";")
    assert pd.Series(cells).notna().all()


def test_plan_columns_hold_the_api_plan(history_df, scorer):
    df = history_df[list(SCHEMA.names)].head(200).copy()
    valid, errors, cols, e = score_chunk(scorer, df, 3)
    rows = e.rows()
    plans = cols["plan"].to_pylist()
    risks = cols["plan_step_risks"].to_pylist()
    final = cols["plan_failure_risk"].to_pylist()
    bands = cols["plan_risk_band"].to_pylist()
    assert any(r.plan for r in rows) and any(not r.plan for r in rows)
    for r, p, k, f, b in zip(rows, plans, risks, final, bands, strict=True):
        assert p == ";".join(s.factor for s in r.plan)
        assert (k or "") == ";".join(f"{s.failure_risk:.3f}" for s in r.plan)
        assert f == r.plan_failure_risk and b == r.plan_risk_band
