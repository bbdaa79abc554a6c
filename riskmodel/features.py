"""Model factors: the inputs the model reads, derived from the contract's columns.

A factor is what a score's explanation names. Most factors are one column; the budget match
ratio is derived from two (``committed_ad_budget_usd / resource_value_usd``), as the contract
says the budget_match family acts through the ratio. Pure functions: typed columns in, arrays
out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskmodel.campaigns import CampaignBatch
from riskmodel.contract import SCHEMA, Schema

BUDGET_RATIO = "budget_match_ratio"


@dataclass(frozen=True)
class Factor:
    """One input of the model: its name, family, the columns it is read from, its kind
    (``numeric`` or ``level``), and for ``level`` factors the names of its levels."""

    name: str
    family: str
    columns: tuple[str, ...]
    kind: str
    levels: tuple[str, ...] = ()
    optional: bool = True
    monotone: int = 0  # +1: more never lowers risk; -1: more never raises it; 0: free


# Declared monotone directions (domain knowledge, enforced by the model's constraints):
# later materials and a worse delivery record never lower risk; more agreed goals and a
# bigger budget relative to the placements' value never raise it.
MONOTONE = {
    "material_delay_days": +1,
    "brand_avg_past_delay_days": +1,
    "goal_alignment_score": -1,
    BUDGET_RATIO: -1,
}


def build_factors(schema: Schema = SCHEMA) -> tuple[Factor, ...]:
    """The model's factors, in contract order (the ratio takes the budget columns' place)."""
    factors: list[Factor] = []
    for col in schema.feature_columns:
        family = col.family
        if family is None:
            raise ValueError(f"column {col.name} describes the campaign but has no factor "
                             "family: every feature column needs one")
        # a factor read from one column is named for it (factor_inputs_one relies on it)
        if col.name == "resource_value_usd":
            factors.append(Factor(BUDGET_RATIO, family, ("committed_ad_budget_usd",
                                                             "resource_value_usd"),
                                  "numeric", optional=False, monotone=MONOTONE[BUDGET_RATIO]))
        elif col.name == "committed_ad_budget_usd":
            continue
        elif col.kind in ("number", "integer"):
            factors.append(Factor(col.name, family, (col.name,), "numeric",
                                  optional=not col.required,
                                  monotone=MONOTONE.get(col.name, 0)))
        elif col.kind == "boolean":
            factors.append(Factor(col.name, family, (col.name,), "level",
                                  levels=("false", "true")))
        elif col.kind == "category":
            factors.append(Factor(col.name, family, (col.name,), "level",
                                  levels=col.categories))
    return tuple(factors)


FACTORS = build_factors()


def factor_values(batch: CampaignBatch, factor: Factor) -> np.ndarray:
    """The factor's input: floats (NaN = unknown; booleans 0/1) or category codes
    (-1 = unknown). :func:`level_codes` turns either kind of level input into codes."""
    if factor.name == BUDGET_RATIO:
        return budget_ratio(batch["committed_ad_budget_usd"], batch["resource_value_usd"])
    return batch[factor.columns[0]]


def factor_inputs_one(row: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`factor_values` for one campaign given as plain values (floats, NaN = unknown;
    category codes; booleans 0.0/1.0/NaN), as validation gives them: a copy of the row with
    the budget ratio added (a factor read from one column bears its name)."""
    out = dict(row)
    out[BUDGET_RATIO] = float(row["committed_ad_budget_usd"]) / float(row["resource_value_usd"])
    return out


def level_codes(x: np.ndarray, unknown: int) -> np.ndarray:
    """Level codes with ``unknown`` for an unknown value (booleans arrive as 0/1/NaN)."""
    if x.dtype.kind == "f":
        return np.where(np.isnan(x), unknown, x).astype(np.intp)
    return np.where(x < 0, unknown, x)


def budget_ratio(committed: np.ndarray, resource: np.ndarray) -> np.ndarray:
    """Budget match ratio: committed ad budget per dollar of placement value."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(committed, dtype=float) / np.asarray(resource, dtype=float)
