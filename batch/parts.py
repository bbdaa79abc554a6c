"""One chunk scored: the part the writer, the rejects file and the summary take from it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from batch.columns import replaced_columns, score_chunk
from batch.summary import BatchSummary, summarise
from riskmodel import Scorer


@dataclass
class Part:
    """One chunk, scored: what the writer, the rejects file and the summary need from it."""

    rows: int
    valid: np.ndarray
    errors: list
    ids: list | None  # campaign_id of every row, only when some row was rejected
    # the valid rows with the added columns; from a Dask worker, (schema, path) of the rows
    # it formatted into a CSV file, the path of its Arrow file, or the schema of the
    # dataset file it wrote
    output: pa.Table | tuple[pa.Schema, str] | str | pa.Schema | None
    summary: BatchSummary
    inputs: pa.Table | None = None  # for the prediction log: the valid rows as read,
    risk: np.ndarray | None = None  # their risks
    band: np.ndarray | None = None  # and bands


def score_part(scorer: Scorer, table: pa.Table, df: pd.DataFrame, top_k: int,
                keep_scores: bool) -> Part:
    """Score one chunk and summarise it; runs in this process or in a Dask worker. The
    score columns of a file scored before are replaced by this run's."""
    valid, errors, cols, e = score_chunk(scorer, df, top_k)
    old = replaced_columns(table.column_names)
    if old:
        table = table.drop_columns(old)
    ids = None
    if errors:  # ids only when there is something to reject
        ids = df["campaign_id"].tolist() if "campaign_id" in df else [None] * len(df)
    summary = BatchSummary()
    if cols is None:
        return Part(len(df), valid, errors, ids, None, summary)
    inputs = table if valid.all() else table.filter(pa.array(valid))
    kept = inputs
    for name, values in cols.items():
        kept = kept.append_column(name, values)
    summarise(summary, e)
    part = Part(len(df), valid, errors, ids, kept, summary)
    if keep_scores:
        part.inputs = inputs
        part.risk, part.band = e.risk, e.band
    return part
