"""Scoring: calibrated risk, band, exact contributions, reasons, mitigations and what-ifs.

The one API the service, the batch command and Python users call, so a campaign gets the
same answer whichever way it is scored.

>>> scorer = load_model()                                  # doctest: +SKIP
>>> [s] = scorer.score({"campaign_id": "c1", ...}, top_k=3)  # doctest: +SKIP
>>> s.failure_risk, s.risk_band, s.top_factors[0].factor   # doctest: +SKIP
(0.62, 'high', 'material_delay_days')
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from riskmodel.advice import ADVICE, WARNING_CODES, Target, readiness_flags, readiness_warning
from riskmodel.campaigns import CampaignBatch
from riskmodel.errors import ArtifactError, FieldError, ParameterError, SchemaError
from riskmodel.explanation import (
    CampaignScore,
    Explanation,
    build_score,
    explain_factor,
    explain_top,
    factor_info,
    family_totals,
    family_totals_one,
    probability_points,
    sigmoid,
)
from riskmodel.features import factor_inputs_one
from riskmodel.model import AdditiveRiskModel
from riskmodel.registry import Registry
from riskmodel.validation import validate_campaigns, validate_record

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class ScoreArrays:
    """Risk, log-odds, band and every contribution of a batch, before any explanation."""

    risk: np.ndarray
    log_odds: np.ndarray
    contributions: np.ndarray  # rows x factors, calibrated log-odds
    band: np.ndarray  # codes into BANDS
    inputs: dict[str, np.ndarray]


class Scorer:
    """A loaded, verified model that scores and explains campaigns."""

    def __init__(self, model: AdditiveRiskModel, version: str, manifest: dict | None = None):
        if model.bands_ is None:
            raise ArtifactError(f"model version {version!r} has no risk bands")
        intercept, means = model.intercept_, model.factor_means_
        if intercept is None or means is None:
            raise ArtifactError(f"model version {version!r} is not fitted: it has no "
                                "coefficients or no factor means")
        self.model = model
        self.version = version
        self.manifest = manifest or {}
        self.factors = model.factors
        self.factor_names = model.factor_names
        self.families = tuple(f.family for f in self.factors)
        self.about = tuple(factor_info(f) for f in self.factors)
        self._actionable = [info.actionable for info in self.about]
        self._actionable_arr = np.array(self._actionable, dtype=bool)
        self._cuts = np.asarray(model.bands_, dtype=float)
        self._cut_list = [float(c) for c in model.bands_]
        self._family_totals_one = family_totals_one(self.families)
        a, b = model.calibration_
        self._intercept = float(intercept)
        self._factor_means = means
        self._means = [float(v) for v in means]
        self._base = a * (self._intercept + float(means.sum())) + b
        # the what-if target of each factor the brand can act on
        self._targets: dict[str, Target] = {
            f.name: target for f in self.factors
            if (target := ADVICE[f.name].target) is not None}

    def check_top_k(self, k: object) -> int:
        """``k`` as the number of factors to explain: an integer from 0 to the number of the
        model's factors (text such as a query parameter is read as an integer); else
        :class:`ParameterError` naming the range and the value received."""
        limit = len(self.factors)
        n = -1
        if not isinstance(k, (bool, float)):
            given: Any = k  # whatever int() reads; the rest raises, answered below
            try:
                n = int(given)
            except (TypeError, ValueError):
                pass
        if not 0 <= n <= limit:
            raise ParameterError(FieldError(None, "top_k", "is not a valid number of factors",
                                            f"an integer from 0 to {limit}", k))
        return n

    @property
    def bands(self) -> dict[str, float]:
        return {"medium_from": float(self._cuts[0]), "high_from": float(self._cuts[1])}

    # ------------------------------------------------------------------ vectorised core

    def compute(self, batch: CampaignBatch) -> ScoreArrays:
        """Risk, band and every contribution for a typed batch, with no Python per row."""
        m = self.model
        inputs = m._inputs(batch)
        a, _ = m.calibration_
        contributions = a * (m.compiled_.raw(inputs) - self._factor_means)
        log_odds = self._base + contributions.sum(axis=1)
        risk = sigmoid(log_odds)
        band = np.searchsorted(self._cuts, risk, side="right")
        return ScoreArrays(risk, log_odds, contributions, band, inputs)

    def explain_batch(self, batch: CampaignBatch, top_k: int = 3) -> Explanation:
        """Score a typed batch and explain its top ``top_k`` factors, all vectorised: the
        one assembly behind the API's rows and the batch command's columns."""
        top_k = self.check_top_k(top_k)
        arr = self.compute(batch)
        top = _top_order(arr.contributions, top_k)
        c, points, up, reasons, texts = explain_top(self.about, arr.inputs, arr.risk,
                                                    arr.log_odds, arr.contributions, top)
        what_if = np.full(top.shape, np.nan)
        needs = np.flatnonzero(up & self._actionable_arr[top])
        factor = top.ravel()[needs]  # group the (row, position) cells by factor
        order = np.argsort(factor, kind="stable")
        needs, factor = needs[order], factor[order]
        bounds = np.flatnonzero(np.diff(factor)) + 1
        width = top.shape[1]
        for cells in np.split(needs, bounds) if len(needs) else ():
            what_if.ravel()[cells] = self._what_if(arr, cells // width,
                                                   self.factor_names[top.ravel()[cells[0]]])
        flags = readiness_flags(batch.columns)
        warnings = np.column_stack([np.asarray(flags[code], dtype=bool)
                                    for code in WARNING_CODES]) if batch.n else \
            np.zeros((0, len(WARNING_CODES)), dtype=bool)
        return Explanation(batch, self.about, self.version, self._base, arr.risk,
                           arr.log_odds, arr.band, arr.contributions,
                           family_totals(self.families, arr.contributions), arr.inputs, top,
                           c, points, up, what_if, reasons, texts, warnings)

    def _what_if(self, arr: ScoreArrays, rows: np.ndarray, factor: str) -> np.ndarray:
        """Risk of ``rows`` if ``factor`` were at its target: the terms reading the factor
        are re-evaluated with the target input (interactions follow), the rest unchanged."""
        old = {k: v[rows] for k, v in arr.inputs.items()}
        new = dict(old)
        new[factor] = self._targets[factor](old[factor])
        delta = self.model.compiled_.term_delta(factor, old, new)
        return sigmoid(arr.log_odds[rows] + self.model.calibration_[0] * delta)

    # ------------------------------------------------------------------ public API

    def score(self, campaigns: pd.DataFrame | Sequence[Mapping] | Mapping | str | Path,
              top_k: int = 3, *, strict: bool = False) -> list[CampaignScore]:
        """Validate and score campaigns.

        Parameters
        ----------
        campaigns : dict, list of dicts, DataFrame, or a CSV / Parquet path
            Campaign plans in the contract; empty optional fields are scored as unknown.
        top_k : int
            How many factors to explain in detail (all contributions are always returned),
            from 0 to the number of the model's factors.
        strict : bool
            JSON types only, as the service requires (no numbers in strings, no 0/1).

        Raises
        ------
        SchemaError
            Listing every problem with row and field; nothing is scored from a guess.
        ParameterError
            ``top_k`` out of its range.
        """
        if isinstance(campaigns, dict):  # one campaign: the plain-Python path
            row, errors = validate_record(campaigns, strict=strict)
            if errors:
                raise SchemaError(errors)
            return [self._explain_row(row, self.check_top_k(top_k))]
        v = validate_campaigns(campaigns, strict=strict)
        v.raise_for_errors()
        return self.explain(v.batch, top_k)

    def explain(self, batch: CampaignBatch, top_k: int = 3) -> list[CampaignScore]:
        """Score and explain a validated batch."""
        top_k = self.check_top_k(top_k)
        if batch.n == 1:
            return [self._explain_row({k: v[:1].tolist()[0] for k, v in batch.columns.items()},
                                      top_k)]
        return self.explain_batch(batch, top_k).rows()

    def _explain_row(self, row: dict, top_k: int) -> CampaignScore:
        """:meth:`explain_batch` for one campaign, the same rules on plain floats: tens of
        microseconds where numpy's per-call overhead would cost hundreds. A test holds both
        paths equal."""
        x = factor_inputs_one(row)
        compiled = self.model.compiled_
        a = self.model.calibration_[0]
        contrib = [a * (r - mu) for r, mu in zip(compiled.raw_one(x), self._means, strict=True)]
        log_odds = self._base + sum(contrib)
        risk = sigmoid(log_odds)
        # a stable sort, reversed, keeps ties in contract order, as the vectorised path does
        sizes = [abs(c) for c in contrib]
        top = sorted(range(len(contrib)), key=sizes.__getitem__, reverse=True)[:top_k]
        about = self.about
        factors = []
        for j in top:
            info = about[j]
            c = contrib[j]
            v = x[info.name]
            value = info.display(v)
            points = probability_points(risk, log_odds, c)
            if c > 0:
                p = math.nan
                if info.actionable:
                    target = self._targets[info.name].one(v)
                    p = sigmoid(log_odds + a * compiled.delta_one(x, info.name, target))
                factors.append(explain_factor(info, value, c, points, info.reason(value), p,
                                              risk))
            else:
                factors.append(explain_factor(info, value, c, points, None, math.nan, risk))
        warnings = tuple([readiness_warning(code, row)
                          for code, flag in readiness_flags(row).items() if flag])
        return build_score(row["campaign_id"], risk, log_odds, self._base,
                           bisect_right(self._cut_list, risk),
                           dict(zip(self.factor_names, contrib, strict=True)),
                           self._family_totals_one(contrib), tuple(factors), warnings,
                           self.version)

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
    size = np.abs(contributions)
    if k > 4:
        return np.argsort(-size, axis=1, kind="stable")[:, :k]
    # a few argmax passes beat a full sort; argmax takes the first of equals, as a stable
    # sort does, and a taken factor drops below every other (|c| >= 0 > -1)
    top = np.empty((len(size), k), dtype=np.intp)
    rows = np.arange(len(size))
    for p in range(k):
        top[:, p] = j = size.argmax(axis=1)
        size[rows, j] = -1.0
    return top


def load_model(version: str | None = None, root: str | Path = "artifacts", *,
               verify_key: bytes | None = None) -> Scorer:
    """Load and verify a model version (the current one by default) as a :class:`Scorer`.

    Parameters
    ----------
    version : str, optional
        A version under ``<root>/models``; ``CURRENT`` by default.
    root : path
        The artifacts root (the command line and the service pass ``RISKMODEL_ARTIFACTS``).
    verify_key : bytes, optional
        An Ed25519 public key (PEM): the version must be signed by it.
    """
    loaded = Registry(root, verify_key=verify_key).load(version)
    if not isinstance(loaded.model, AdditiveRiskModel):
        raise ArtifactError(f"model version {loaded.version!r} holds a "
                            f"{type(loaded.model).__name__}, not an AdditiveRiskModel")
    return Scorer(loaded.model, loaded.version, loaded.manifest)
