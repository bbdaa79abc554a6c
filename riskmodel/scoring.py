"""Scoring: calibrated risk, band, exact contributions, reasons, mitigations and what-ifs.

The one API the service, the batch command and Python users call, so a campaign gets the
same answer whichever way it is scored.

>>> scorer = load_model()                                  # doctest: +SKIP
>>> [s] = scorer.score({"campaign_id": "c1", ...}, top_k=3)  # doctest: +SKIP
>>> s.failure_risk, s.risk_band, s.top_factors[0].factor   # doctest: +SKIP
(0.62, 'high', 'material_delay_days')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from riskmodel import config
from riskmodel.advice import (
    ADVICE,
    ESCALATION,
    ReadinessWarning,
    readiness_flags,
    readiness_warning,
)
from riskmodel.errors import ArtifactError
from riskmodel.model import AdditiveRiskModel
from riskmodel.registry import Registry
from riskmodel.validation import CampaignBatch, validate_campaigns

BANDS = ("low", "medium", "high")


@dataclass(frozen=True)
class WhatIf:
    """The risk if one factor were at its target, computed by re-scoring."""

    target: str
    failure_risk: float
    change: float  # failure_risk minus the campaign's risk


@dataclass(frozen=True)
class FactorContribution:
    """One factor's exact share of a campaign's log-odds, and what to do about it."""

    factor: str
    columns: tuple[str, ...]
    value: object
    family: str
    log_odds: float
    probability_points: float  # risk minus the risk with this factor at its average
    direction: str  # "raises" or "lowers"
    actionable: bool
    reason: str | None = None
    mitigation: str | None = None
    what_if: WhatIf | None = None


@dataclass(frozen=True)
class CampaignScore:
    """The scoring result for one campaign.

    ``base_value + sum(contributions.values()) == log_odds`` exactly (to rounding), and
    ``failure_risk == 1 / (1 + exp(-log_odds))``.
    """

    campaign_id: str
    failure_risk: float
    risk_band: str
    log_odds: float
    base_value: float
    top_factors: tuple[FactorContribution, ...]
    family_totals: dict[str, float]
    contributions: dict[str, float]
    warnings: tuple[ReadinessWarning, ...]
    escalation: str | None
    model_version: str


@dataclass
class ScoreArrays:
    """Vectorised scores of a batch: what the batch command writes in flat columns."""

    risk: np.ndarray
    log_odds: np.ndarray
    base: float
    contributions: np.ndarray  # rows x factors, calibrated log-odds
    band: np.ndarray  # codes into BANDS
    inputs: dict[str, np.ndarray]
    top: np.ndarray | None = None  # rows x k: factor indices, largest |contribution| first
    what_if_risk: np.ndarray | None = None  # rows x k: risk at the factor's target, or NaN


class Scorer:
    """A loaded, verified model that scores and explains campaigns."""

    def __init__(self, model: AdditiveRiskModel, version: str, manifest: dict | None = None):
        if model.bands_ is None:
            raise ArtifactError(f"model version {version!r} has no risk bands")
        self.model = model
        self.version = version
        self.manifest = manifest or {}
        self.factors = model.factors
        self.factor_names = model.factor_names
        self.families = tuple(f.family for f in self.factors)
        self._index = {name: i for i, name in enumerate(self.factor_names)}
        self._actionable = [ADVICE[name].actionable for name in self.factor_names]
        self._actionable_arr = np.array(self._actionable, dtype=bool)
        self._cuts = np.asarray(model.bands_, dtype=float)
        a, b = model.calibration_
        self._intercept = float(model.solver_.intercept_[0])
        self._means = [float(v) for v in model.factor_means_]
        self._base = a * (self._intercept + float(model.factor_means_.sum())) + b

    @property
    def bands(self) -> dict[str, float]:
        return {"medium_from": float(self._cuts[0]), "high_from": float(self._cuts[1])}

    # ------------------------------------------------------------------ vectorised core

    def compute(self, batch: CampaignBatch) -> ScoreArrays:
        """Risk, band and every contribution for a typed batch, with no Python per row."""
        m = self.model
        inputs = m._inputs(batch)
        a, b = m.calibration_
        contributions = a * (m.compiled_.raw(inputs) - m.factor_means_)
        log_odds = self._base + contributions.sum(axis=1)
        return self._arrays(log_odds, contributions, inputs)

    def _arrays(self, log_odds, contributions, inputs) -> ScoreArrays:
        risk = expit(log_odds)
        band = np.searchsorted(self._cuts, risk, side="right")
        return ScoreArrays(risk, log_odds, self._base, contributions, band, inputs)

    def _compute_one(self, batch: CampaignBatch, top_k: int) -> ScoreArrays:
        """:meth:`explain_arrays` for one campaign, in plain Python: a few tens of
        microseconds where numpy's per-call overhead would cost hundreds."""
        m = self.model
        inputs = m._inputs(batch)
        x = {k: float(v[0]) for k, v in inputs.items()}
        a, b = m.calibration_
        raw = m.compiled_.raw_one(x)
        contrib = [a * (r - mu) for r, mu in zip(raw, self._means, strict=True)]
        log_odds = self._base + sum(contrib)
        arr = self._arrays(np.array([log_odds]), np.array([contrib]), inputs)
        arr.top = _top_order(arr.contributions, min(top_k, len(contrib)))
        arr.what_if_risk = np.full(arr.top.shape, np.nan)
        for col, j in enumerate(arr.top[0]):
            name = self.factor_names[j]
            if contrib[j] > 0 and self._actionable[j]:
                changed = dict(x)
                changed[name] = float(ADVICE[name].target(np.array([x[name]]))[0])
                eta = a * (self._intercept + sum(m.compiled_.raw_one(changed))) + b
                arr.what_if_risk[0, col] = expit(eta)
        return arr

    def explain_arrays(self, batch: CampaignBatch, top_k: int = 3) -> ScoreArrays:
        """:meth:`compute`, plus the top ``top_k`` factors of each campaign and the risk if
        each were at its target, all vectorised: the batch command's core."""
        if batch.n == 1:
            return self._compute_one(batch, top_k)
        arr = self.compute(batch)
        arr.top = _top_order(arr.contributions, min(top_k, len(self.factors)))
        arr.what_if_risk = np.full(arr.top.shape, np.nan)
        picked = np.take_along_axis(arr.contributions, arr.top, axis=1)
        needs = (picked > 0) & self._actionable_arr[arr.top]
        for j in np.flatnonzero(self._actionable_arr):
            rows, cols = np.nonzero(needs & (arr.top == j))
            if len(rows):
                arr.what_if_risk[rows, cols] = self.what_if(arr, rows, self.factor_names[j])
        return arr

    def what_if(self, arr: ScoreArrays, rows: np.ndarray, factor: str) -> np.ndarray:
        """Risk of ``rows`` if ``factor`` were at its target: the terms reading the factor
        are re-evaluated with the target input (interactions follow), the rest unchanged."""
        old = {k: v[rows] for k, v in arr.inputs.items()}
        new = dict(old)
        new[factor] = ADVICE[factor].target(old[factor])
        delta = self.model.compiled_.term_delta(factor, old, new)
        return expit(arr.log_odds[rows] + self.model.calibration_[0] * delta)

    # ------------------------------------------------------------------ public API

    def score(self, campaigns: pd.DataFrame | Sequence[Mapping] | Mapping | str | Path,
              top_k: int = 3) -> list[CampaignScore]:
        """Validate and score campaigns.

        Parameters
        ----------
        campaigns : dict, list of dicts, DataFrame, or a CSV / Parquet path
            Campaign plans in the contract; empty optional fields are scored as unknown.
        top_k : int
            How many factors to explain in detail (all contributions are always returned).

        Raises
        ------
        SchemaError
            Listing every problem with row and field; nothing is scored from a guess.
        """
        v = validate_campaigns(campaigns)
        v.raise_for_errors()
        return self.explain(v.batch, top_k)

    def explain(self, batch: CampaignBatch, top_k: int = 3) -> list[CampaignScore]:
        """Score and explain a validated batch."""
        if top_k < 0:
            raise ValueError(f"top_k must be ≥ 0; got {top_k}")
        arr = self.explain_arrays(batch, top_k)
        n = batch.n
        flags = readiness_flags(batch.columns)
        ids = batch["campaign_id"]
        out = []
        for i in range(n):
            risk = float(arr.risk[i])
            contrib = arr.contributions[i]
            top = []
            for col, j in enumerate(arr.top[i]):
                name = self.factor_names[j]
                c = float(contrib[j])
                advice = ADVICE[name]
                value = self._value(arr, name, i)
                raises = c > 0
                wi = None
                p = float(arr.what_if_risk[i, col])
                if p == p:
                    wi = WhatIf(advice.target_label, p, p - risk)
                top.append(FactorContribution(
                    factor=name, columns=self.factors[j].columns, value=value,
                    family=self.families[j], log_odds=c,
                    probability_points=risk - float(expit(arr.log_odds[i] - c)),
                    direction="raises" if raises else "lowers",
                    actionable=advice.actionable,
                    reason=advice.reason(value) if raises else None,
                    mitigation=advice.mitigation if raises else None, what_if=wi))
            families: dict[str, float] = {}
            for j, fam in enumerate(self.families):
                families[fam] = families.get(fam, 0.0) + float(contrib[j])
            warnings = tuple(readiness_warning(code, batch.columns, i)
                             for code, mask in flags.items() if mask[i])
            band = BANDS[int(arr.band[i])]
            out.append(CampaignScore(
                campaign_id=ids[i], failure_risk=risk, risk_band=band,
                log_odds=float(arr.log_odds[i]), base_value=arr.base, top_factors=tuple(top),
                family_totals=families,
                contributions=dict(zip(self.factor_names, map(float, contrib), strict=True)),
                warnings=warnings, escalation=ESCALATION if band == "high" else None,
                model_version=self.version))
        return out

    def _value(self, arr: ScoreArrays, name: str, i: int) -> object:
        f = self.factors[self._index[name]]
        x = arr.inputs[name][i]
        if f.kind == "level":
            if x != x or x < 0:
                return None
            if f.levels == ("false", "true"):
                return bool(x)
            return f.levels[int(x)]
        x = float(x)
        return None if x != x else x

    def predict_proba(self, campaigns) -> np.ndarray:
        """The artifact's own ``predict_proba`` (design-matrix path), for checking."""
        v = validate_campaigns(campaigns)
        v.raise_for_errors()
        return self.model.predict_proba(v.batch)


def _top_order(contributions: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest |contributions| per row; ties go to the factor that
    comes first in the contract (a stable sort on the factor order)."""
    if k == 0:
        return np.zeros((len(contributions), 0), dtype=int)
    return np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :k]


def load_model(version: str | None = None, root: str | Path | None = None) -> Scorer:
    """Load and verify a model version (the current one by default) as a :class:`Scorer`.

    Parameters
    ----------
    version : str, optional
        A version under ``<root>/models``; ``CURRENT`` by default.
    root : path, optional
        The artifacts root; ``RISKMODEL_ARTIFACTS`` or ``./artifacts`` by default.
    """
    loaded = Registry(root or config.artifacts_dir()).load(version)
    if not isinstance(loaded.model, AdditiveRiskModel):
        raise ArtifactError(f"model version {loaded.version!r} holds a "
                            f"{type(loaded.model).__name__}, not an AdditiveRiskModel")
    return Scorer(loaded.model, loaded.version, loaded.manifest)
