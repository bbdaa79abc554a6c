"""Scoring: calibrated risk, band, exact contributions, reasons, mitigations and what-ifs.

The one API the service, the batch command and Python users call, so a campaign gets the
same answer whichever way it is scored.

>>> scorer = load_model()                                  # doctest: +SKIP
>>> [s] = scorer.score({"campaign_id": "c1", ...}, top_k=3)  # doctest: +SKIP
>>> s.failure_risk, s.risk_band, s.top_factors[0].factor   # doctest: +SKIP
(0.62, 'high', 'material_delay_days')
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from riskmodel.advice import ADVICE, WARNING_CODES, Target, readiness_flags, readiness_warning
from riskmodel.campaigns import CampaignBatch
from riskmodel.coverage import Coverage
from riskmodel.errors import ArtifactError, FieldError, ParameterError, SchemaError
from riskmodel.explanation import (
    CampaignScore,
    Explanation,
    FactorInfo,
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
from riskmodel.i18n import LOCALES, N_
from riskmodel.model import ATTRIBUTIONS, AdditiveRiskModel
from riskmodel.plan import actions_for, coupled, make_steps, plan_batch, plan_one
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
        self.attribution = attribution_of(model, version, self.manifest)
        # where the model has little data (None: fitted before coverage was recorded)
        self.coverage = None if model.coverage_ is None else Coverage(model.coverage_,
                                                                      model.factors)
        self.factors = model.factors
        self.factor_names = model.factor_names
        self.families = tuple(f.family for f in self.factors)
        # what the explanations say about each factor, per shipped language: English now,
        # another language when first asked for (a command scoring in English never loads
        # the others' number formats), or all at once by prepare()
        self._about = {"en": tuple(factor_info(f, "en") for f in self.factors)}
        self.locale = "en"  # the language of the texts when a call names none
        self.about = self._about["en"]
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
        # the plan's candidate changes (riskmodel.plan), and the log-odds below which a
        # campaign is in the low band
        self._actions = actions_for(model.compiled_, [
            (j, f.name, self._targets[f.name]) for j, f in enumerate(self.factors)
            if f.name in self._targets])
        self._links = coupled(model.compiled_, self._actions)
        medium = float(self._cuts[0])
        self._low_below = (math.log(medium / (1 - medium)) if 0 < medium < 1
                           else (-math.inf if medium <= 0 else math.inf))

    def with_locale(self, locale: str) -> Scorer:
        """This scorer with its texts in ``locale`` by default (one of
        :data:`riskmodel.LOCALES`; anything else gives English): the same model and tables,
        shared. For callers that hand a scorer on, such as batch scoring's workers."""
        other = copy.copy(self)
        other.locale, other.about = self._texts(locale)
        return other

    def prepare(self, locales: Iterable[str] = LOCALES) -> Scorer:
        """Build the texts of ``locales`` now (a service does, so that the first request
        in any language costs what the others do); returns this scorer."""
        for locale in locales:
            self._texts(locale)
        return self

    def _texts(self, locale: str) -> tuple[str, tuple[FactorInfo, ...]]:
        """``locale`` if shipped (English otherwise) and what the explanations say about
        each factor in it, built on first use."""
        about = self._about.get(locale)
        if about is None:
            if locale not in LOCALES:
                return "en", self._about["en"]
            # two threads may build it at once: the same tuple, the last one kept
            about = self._about[locale] = tuple(factor_info(f, locale) for f in self.factors)
        return locale, about

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
            raise ParameterError(FieldError(None, "top_k", N_("is not a valid number of factors"),
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

    def explain_batch(self, batch: CampaignBatch, top_k: int = 3, *,
                      locale: str | None = None) -> Explanation:
        """Score a typed batch and explain its top ``top_k`` factors, all vectorised: the
        one assembly behind the API's rows and the batch command's columns. The texts are
        in ``locale`` (one of :data:`riskmodel.LOCALES`; anything else gives English; by
        default the scorer's, see :meth:`with_locale`)."""
        top_k = self.check_top_k(top_k)
        locale, about = self._texts(self.locale if locale is None else locale)
        arr = self.compute(batch)
        top = _top_order(arr.contributions, top_k)
        c, points, up, reasons, texts = explain_top(about, arr.inputs, arr.risk,
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
        depth = None if self.coverage is None else self.coverage.flags(arr.inputs)
        steps, step_risk, final = plan_batch(self.model.compiled_, self.model.calibration_[0],
                                             self._actions, self._links, arr.inputs,
                                             arr.log_odds, self._low_below)
        plan_risk = sigmoid(final)
        return Explanation(batch, about, self.version, self._base, arr.risk,
                           arr.log_odds, arr.band, arr.contributions,
                           family_totals(self.families, arr.contributions), arr.inputs, top,
                           c, points, up, what_if, reasons, texts, warnings, locale, depth,
                           self.coverage, steps, step_risk, plan_risk,
                           np.searchsorted(self._cuts, plan_risk, side="right"),
                           self._actions)

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
              top_k: int = 3, *, strict: bool = False, locale: str | None = None,
              max_errors: int | None = None) -> list[CampaignScore]:
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
        locale : str
            The language of the reasons, mitigations, what-if targets, warnings and
            escalation: one of :data:`riskmodel.LOCALES` (``riskmodel.negotiate_locale``
            reads a language tag); anything else gives English. Codes, factor names and
            every other field are the same in every language. By default the scorer's
            (English unless made by :meth:`with_locale`).
        max_errors : int, optional
            Stop collecting errors after this many (``SchemaError.more`` counts the rest).

        Raises
        ------
        SchemaError
            Listing every problem with row and field; nothing is scored from a guess.
        ParameterError
            ``top_k`` out of its range.
        """
        if locale is None:
            locale = self.locale
        if isinstance(campaigns, dict):  # one campaign: the plain-Python path
            row, errors = validate_record(campaigns, strict=strict)
            if errors:
                more = 0 if max_errors is None else max(0, len(errors) - max_errors)
                raise SchemaError(errors[:len(errors) - more], more=more)
            return [self._explain_row(row, self.check_top_k(top_k), locale)]
        v = validate_campaigns(campaigns, strict=strict, max_errors=max_errors)
        v.raise_for_errors()
        return self.explain(v.batch, top_k, locale=locale)

    def explain(self, batch: CampaignBatch, top_k: int = 3, *,
                locale: str | None = None) -> list[CampaignScore]:
        """Score and explain a validated batch, its texts in ``locale``."""
        top_k = self.check_top_k(top_k)
        if locale is None:
            locale = self.locale
        if batch.n == 1:
            return [self._explain_row({k: v[:1].tolist()[0] for k, v in batch.columns.items()},
                                      top_k, locale)]
        return self.explain_batch(batch, top_k, locale=locale).rows()

    def _explain_row(self, row: dict, top_k: int, locale: str = "en") -> CampaignScore:
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
        locale, about = self._texts(locale)
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
        warnings = tuple([readiness_warning(code, row, locale)
                          for code, flag in readiness_flags(row).items() if flag])
        depth: tuple = ()
        if self.coverage is not None:
            flags = self.coverage.one(x)
            if flags:
                depth = tuple(self.coverage.describe(j, code, x[about[j].name],
                                                     about[j].display(x[about[j].name]),
                                                     locale)
                              for j, code in flags)
        chosen, final = plan_one(compiled, a, self._actions, self._links, x, log_odds,
                                 self._low_below)
        plan: tuple = ()
        plan_risk = risk
        if chosen:
            plan_risk = sigmoid(final)
            plan = make_steps(about, self._actions, [j for j, _ in chosen],
                              [sigmoid(lo) for _, lo in chosen], risk)
        return build_score(row["campaign_id"], risk, log_odds, self._base,
                           bisect_right(self._cut_list, risk),
                           dict(zip(self.factor_names, contrib, strict=True)),
                           self._family_totals_one(contrib), tuple(factors), warnings,
                           self.version, locale, depth, plan, plan_risk,
                           bisect_right(self._cut_list, plan_risk))

    def predict_proba(self, campaigns) -> np.ndarray:
        """The artifact's own ``predict_proba`` (design-matrix path), for checking."""
        v = validate_campaigns(campaigns)
        v.raise_for_errors()
        return self.model.predict_proba(v.batch)


def attribution_of(model: AdditiveRiskModel, version: str, manifest: Mapping) -> str:
    """The convention by which ``model`` attributes its interactions: the model's own
    (a model fitted before purification reads as ``driver``), which the manifest, when it
    records one, must state too; else :class:`ArtifactError` saying to retrain."""
    rule = model.attribution_
    if rule not in ATTRIBUTIONS:
        raise ArtifactError(f"model version {version!r} attributes its interactions by "
                            f"{rule!r}, which this code does not know (it knows "
                            f"{', '.join(ATTRIBUTIONS)}); retrain it with this code")
    stated = manifest.get("model", {}).get("attribution")
    if stated is not None and stated != rule:
        raise ArtifactError(f"model version {version!r}: its manifest states the attribution "
                            f"{stated!r} but the model holds {rule!r}; the artifact is "
                            "inconsistent, retrain it")
    return rule


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
