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
