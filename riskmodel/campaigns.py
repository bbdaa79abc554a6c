"""Typed campaigns: the contract's columns as numpy arrays, the form every core function takes.

Numbers, integers and booleans are ``float64`` with ``NaN`` for empty (booleans as 0.0/1.0);
categories are ``int16`` codes into the column's ``categories`` with ``-1`` for empty; strings
and dates are ``object`` arrays. Validation (:mod:`riskmodel.validation`) is the way in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from riskmodel.contract import SCHEMA, Schema

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class CampaignBatch:
    """Typed columns of ``n`` campaigns (see the module docstring for the encoding)."""

    n: int
    columns: dict[str, np.ndarray]
    schema: Schema = SCHEMA

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def take(self, index: np.ndarray) -> CampaignBatch:
        index = np.asarray(index)
        cols = {k: v[index] for k, v in self.columns.items()}
        n = int(index.sum()) if index.dtype == bool else len(index)
        return CampaignBatch(n=n, columns=cols, schema=self.schema)

    def replace(self, **columns: np.ndarray) -> CampaignBatch:
        """A copy with some columns replaced (for what-ifs)."""
        cols = dict(self.columns)
        cols.update(columns)
        return CampaignBatch(n=self.n, columns=cols, schema=self.schema)

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame with the contract's dtypes (nullable booleans and integers)."""
        import pandas as pd

        data = {}
        for name, values in self.columns.items():
            col = self.schema[name]
            if col.kind == "category":
                cats = np.array(col.categories + (None,), dtype=object)
                data[name] = pd.Categorical(cats[values], categories=list(col.categories))
            elif col.kind == "boolean":
                data[name] = pd.array(
                    [None if math.isnan(v) else bool(v) for v in values], dtype="boolean")
            elif col.kind == "integer":
                data[name] = pd.array(values, dtype="Float64").astype("Int64")
            else:
                data[name] = values
        return pd.DataFrame(data)
