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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from riskmodel.advice import (
    ADVICE,
    ESCALATION,
    ReadinessWarning,
    readiness_flags,
    readiness_warning,
)
from riskmodel.errors import ArtifactError, FieldError, ParameterError, SchemaError
from riskmodel.features import factor_inputs_one
from riskmodel.model import AdditiveRiskModel
from riskmodel.registry import Registry
from riskmodel.validation import CampaignBatch, validate_campaigns, validate_record

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
        self._cut_list = [float(c) for c in model.bands_]
        self._family_order = tuple(dict.fromkeys(self.families))
        self._about = [(f.name, f.columns, f.family, ADVICE[f.name], _display(f),
                        ADVICE[f.name].actionable) for f in self.factors]
        # each family's factors, in contract order, picked from a list of contributions
        self._family_pick = [(fam, _picker([j for j, f in enumerate(self.families)
                                            if f == fam])) for fam in self._family_order]
        a, b = model.calibration_
        self._intercept = float(model.solver_.intercept_[0])
        self._means = [float(v) for v in model.factor_means_]
        self._base = a * (self._intercept + float(model.factor_means_.sum())) + b

    def check_top_k(self, k: object) -> int:
        """``k`` as the number of factors to explain: an integer from 0 to the number of the
        model's factors (text such as a query parameter is read as an integer); else
        :class:`ParameterError` naming the range and the value received."""
        limit = len(self.factors)
        try:
            n = int(k) if not isinstance(k, (bool, float)) else -1  # type: ignore[call-overload]
        except (TypeError, ValueError):
            n = -1
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
        a, b = m.calibration_
        contributions = a * (m.compiled_.raw(inputs) - m.factor_means_)
        log_odds = self._base + contributions.sum(axis=1)
        return self._arrays(log_odds, contributions, inputs)

    def _arrays(self, log_odds, contributions, inputs) -> ScoreArrays:
        risk = expit(log_odds)
        band = np.searchsorted(self._cuts, risk, side="right")
        return ScoreArrays(risk, log_odds, self._base, contributions, band, inputs)

    def explain_arrays(self, batch: CampaignBatch, top_k: int = 3) -> ScoreArrays:
        """:meth:`compute`, plus the top ``top_k`` factors of each campaign and the risk if
        each were at its target, all vectorised: the batch command's core."""
        arr = self.compute(batch)
        arr.top = _top_order(arr.contributions, min(top_k, len(self.factors)))
        arr.what_if_risk = np.full(arr.top.shape, np.nan)
        picked = np.take_along_axis(arr.contributions, arr.top, axis=1)
        needs = np.flatnonzero((picked > 0) & self._actionable_arr[arr.top])
        factor = arr.top.ravel()[needs]  # group the (row, position) cells by factor
        order = np.argsort(factor, kind="stable")
        needs, factor = needs[order], factor[order]
        bounds = np.flatnonzero(np.diff(factor)) + 1
        width = arr.top.shape[1]
        for cells in np.split(needs, bounds) if len(needs) else ():
            rows = cells // width
            arr.what_if_risk.ravel()[cells] = self.what_if(
                arr, rows, self.factor_names[arr.top.ravel()[cells[0]]])
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
              top_k: int = 3, *, strict: bool = False) -> list[CampaignScore]:
        """Validate and score campaigns.

        Parameters
        ----------
        campaigns : dict, list of dicts, DataFrame, or a CSV / Parquet path
            Campaign plans in the contract; empty optional fields are scored as unknown.
        top_k : int
            How many factors to explain in detail (all contributions are always returned).
        strict : bool
            JSON types only, as the service requires (no numbers in strings, no 0/1).

        Raises
        ------
        SchemaError
            Listing every problem with row and field; nothing is scored from a guess.
        """
        if isinstance(campaigns, Mapping):  # one campaign: the plain-Python path
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
            return [self._explain_row({k: v[0] for k, v in batch.columns.items()}, top_k)]
        arr = self.explain_arrays(batch, top_k)
        flags = readiness_flags(batch.columns)
        codes = list(flags)
        flagged = np.column_stack(list(flags.values()))
        ids = batch["campaign_id"]
        risk, log_odds = arr.risk.tolist(), arr.log_odds.tolist()
        contributions, top = arr.contributions.tolist(), arr.top.tolist()
        what_if, band = arr.what_if_risk.tolist(), arr.band.tolist()
        out = []
        for i in range(batch.n):
            warnings = ()
            if flagged[i].any():
                row = {k: v[i] for k, v in batch.columns.items()}
                warnings = tuple(readiness_warning(codes[c], row)
                                 for c in np.flatnonzero(flagged[i]))
            values = {self.factor_names[j]: arr.inputs[self.factor_names[j]][i] for j in top[i]}
            out.append(self._build(ids[i], risk[i], log_odds[i], band[i], contributions[i],
                                   top[i], what_if[i], values, warnings))
        return out

    def _explain_row(self, row: dict, top_k: int) -> CampaignScore:
        """:meth:`explain` for one campaign in plain Python: tens of microseconds where
        numpy's per-call overhead would cost hundreds. A test holds both paths equal."""
        x = factor_inputs_one(row, self.factors)
        compiled = self.model.compiled_
        a = self.model.calibration_[0]
        contrib = [a * (r - mu) for r, mu in zip(compiled.raw_one(x), self._means, strict=True)]
        log_odds = self._base + sum(contrib)
        risk = _sigmoid(log_odds)
        # a stable sort, reversed, keeps ties in contract order, as the vectorised path does
        sizes = [abs(c) for c in contrib]
        top = sorted(range(len(contrib)), key=sizes.__getitem__, reverse=True)[:top_k]
        what_if = []
        for j in top:
            name = self.factor_names[j]
            p = math.nan
            if contrib[j] > 0 and self._actionable[j]:
                target = ADVICE[name].target.one(x[name])
                p = _sigmoid(log_odds + a * compiled.delta_one(x, name, target))
            what_if.append(p)
        warnings = tuple(readiness_warning(code, row)
                         for code, flag in readiness_flags(row).items() if flag)
        band = bisect_right(self._cut_list, risk)
        return self._build(row["campaign_id"], risk, log_odds, band, contrib, top, what_if,
                           x, warnings)

    def _build(self, campaign_id, risk: float, log_odds: float, band: int, contrib: list,
               top: list, what_if: list, values: dict, warnings: tuple) -> CampaignScore:
        """One :class:`CampaignScore` from plain numbers: shared by both paths."""
        factors = []
        for col, j in enumerate(top):
            name, columns, family, advice, display, actionable = self._about[j]
            c = contrib[j]
            value = display(values[name])
            p = what_if[col]
            what = _new_what_if(advice.target_label, p, p - risk) if p == p else None
            if c > 0:
                factors.append(_new_factor(
                    name, columns, value, family, c, risk - _sigmoid(log_odds - c), "raises",
                    actionable, advice.reason(value), advice.mitigation, what))
            else:
                factors.append(_new_factor(
                    name, columns, value, family, c, risk - _sigmoid(log_odds - c), "lowers",
                    actionable, None, None, what))
        # each family's factors added in contract order, as the vectorised path adds them
        families = {fam: sum(pick(contrib)) for fam, pick in self._family_pick}
        label = BANDS[band]
        return _new_score(campaign_id, risk, label, log_odds, self._base, tuple(factors),
                          families, dict(zip(self.factor_names, contrib, strict=True)),
                          warnings, ESCALATION if label == "high" else None, self.version)

    def display_value(self, name: str, x) -> object:
        """A factor's input as the planner wrote it (level name, bool, number, None)."""
        return self._about[self._index[name]][4](x)


    def predict_proba(self, campaigns) -> np.ndarray:
        """The artifact's own ``predict_proba`` (design-matrix path), for checking."""
        v = validate_campaigns(campaigns)
        v.raise_for_errors()
        return self.model.predict_proba(v.batch)


def _maker(cls: type) -> Callable[..., object]:
    """A positional constructor for the frozen result dataclass ``cls``, every field given:
    it fills the instance's ``__dict__`` in one step where the generated ``__init__`` calls
    ``object.__setattr__`` once per field (a third of the time, on the one-campaign path
    that builds seven of them). The instance is the same: a test holds them equal."""
    names = tuple(f.name for f in fields(cls))
    new = object.__new__

    def make(*values):
        obj = new(cls)
        obj.__dict__.update(zip(names, values, strict=True))
        return obj
    return make


_new_factor, _new_what_if, _new_score = map(_maker, (FactorContribution, WhatIf,
                                                     CampaignScore))


def _display(f) -> Callable[[object], object]:
    """The function giving factor ``f``'s input as the planner wrote it: a level's name, a
    bool for a yes/no level, a number, or None for unknown."""
    if f.kind != "level":
        def number(x):
            x = float(x)
            return None if x != x else x
        return number
    levels = f.levels
    as_bool = levels == ("false", "true")

    def level(x):
        x = float(x)
        if x != x or x < 0:
            return None
        return bool(x) if as_bool else levels[int(x)]
    return level


def _picker(members: list[int]) -> Callable[[list], tuple]:
    """``lambda c: tuple(c[j] for j in members)``, in C (itemgetter) when it can be."""
    if len(members) == 1:
        [j] = members
        return lambda c: (c[j],)
    return itemgetter(*members)


def _sigmoid(x: float) -> float:
    """The logistic function on a plain float, without numpy's per-call cost; agrees with
    ``expit`` to rounding, and never overflows."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


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


def load_model(version: str | None = None, root: str | Path = "artifacts") -> Scorer:
    """Load and verify a model version (the current one by default) as a :class:`Scorer`.

    Parameters
    ----------
    version : str, optional
        A version under ``<root>/models``; ``CURRENT`` by default.
    root : path
        The artifacts root (the command line and the service pass ``RISKMODEL_ARTIFACTS``).
    """
    loaded = Registry(root).load(version)
    if not isinstance(loaded.model, AdditiveRiskModel):
        raise ArtifactError(f"model version {loaded.version!r} holds a "
                            f"{type(loaded.model).__name__}, not an AdditiveRiskModel")
    return Scorer(loaded.model, loaded.version, loaded.manifest)
