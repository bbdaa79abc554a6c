"""What a planner reads about a scored campaign, assembled once, in two shapes.

The rules live here, each once:

- a factor **raises** risk when its contribution is positive, else it **lowers** it;
- its **probability points** are the risk minus the risk with the factor at its average:
  ``risk - sigmoid(log_odds - contribution)``;
- only a factor that raises risk gets a **reason** (its advice, worded with the value the
  planner wrote) and a **mitigation**, and, when the brand can act on it, a **what-if**;
- the **family totals** add each family's contributions in contract order.

:class:`Explanation` applies them to a batch with numpy and gives both shapes: rows of
:class:`CampaignScore` (the Python API and the service) and arrays for the flat columns of
a scored file (``batch`` formats them). The scorer's one-campaign path applies the same
rule functions (:func:`sigmoid`, :func:`probability_points`, :func:`build_score`) to plain
floats, where numpy's per-call cost would dominate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from riskmodel._fast import constructor
from riskmodel.advice import (
    ADVICE,
    WARNING_CODES,
    ReadinessWarning,
    escalation,
    readiness_warning,
    say,
)
from riskmodel.campaigns import CampaignBatch
from riskmodel.contract import FAMILIES
from riskmodel.coverage import Coverage, OutOfDepth
from riskmodel.features import Factor
from riskmodel.plan import Action, PlanStep, make_steps

BANDS = ("low", "medium", "high")
DIRECTIONS = ("lowers", "raises")  # indexed by "raises"


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
    out_of_depth: tuple[OutOfDepth, ...] = ()  # where the model has little or no data
    plan: tuple[PlanStep, ...] = ()  # the changes that bring it into the low band, in order
    plan_failure_risk: float | None = None  # the risk once the whole plan is made
    plan_risk_band: str | None = None


# --------------------------------------------------------------------------- the rules


def sigmoid(x):
    """The logistic function, on a float or an array, without overflow."""
    if x.__class__ is not np.ndarray:
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def probability_points(risk, log_odds, contribution):
    """Risk minus the risk with the factor at its average (floats or arrays)."""
    return risk - sigmoid(log_odds - contribution)


@dataclass(frozen=True)
class FactorInfo:
    """What the explanation says about one of the model's factors, whatever its value."""

    name: str
    columns: tuple[str, ...]
    family: str
    actionable: bool
    mitigation: str | None
    target_label: str | None
    reason: Callable[[object], str]  # of the value as the planner wrote it
    reason_step: float | None  # see Advice.reason_step
    display: Callable[[object], object]  # the factor's input as the planner wrote it


def factor_info(f: Factor, locale: str = "en") -> FactorInfo:
    """What the explanation says about factor ``f``, its words in ``locale``."""
    advice = ADVICE[f.name]
    mitigation, target = (None if m is None else say(m, locale)
                          for m in (advice.mitigation, advice.target_label))
    return FactorInfo(f.name, f.columns, f.family, advice.actionable, mitigation, target,
                      advice.reason.localized(locale), advice.reason_step, _display(f))


def _display(f: Factor) -> Callable[[object], object]:
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


def explain_factor(info: FactorInfo, value: object, log_odds: float, points: float,
                   reason: str | None, what_if_risk: float, risk: float
                   ) -> FactorContribution:
    """One explained factor from plain values (``what_if_risk`` NaN: no what-if). Both
    shapes build their factors here, so a campaign reads the same whichever way it was
    scored."""
    up = log_odds > 0
    what = None if what_if_risk != what_if_risk else _new_what_if(
        info.target_label, what_if_risk, what_if_risk - risk)
    return _new_factor(info.name, info.columns, value, info.family, log_odds, points,
                       DIRECTIONS[up], info.actionable, reason,
                       info.mitigation if up else None, what)


def build_score(campaign_id: str, risk: float, log_odds: float, base: float, band: int,
                contributions: dict[str, float], family_totals: dict[str, float],
                factors: tuple[FactorContribution, ...], warnings: tuple,
                version: str, locale: str = "en", out_of_depth: tuple = (),
                plan: tuple = (), plan_risk: float | None = None,
                plan_band: int | None = None) -> CampaignScore:
    """One :class:`CampaignScore` (the escalation path, in ``locale``, comes with the high
    band)."""
    label = BANDS[band]
    return _new_score(campaign_id, risk, label, log_odds, base, factors, family_totals,
                      contributions, warnings,
                      escalation(locale) if label == "high" else None, version,
                      out_of_depth, plan, plan_risk,
                      None if plan_band is None else BANDS[plan_band])


_new_factor = constructor(FactorContribution)
_new_what_if = constructor(WhatIf)
_new_score = constructor(CampaignScore)


# --------------------------------------------------------------------------- many at once


class Texts:
    """Distinct texts (reasons...), each formatted once; cells hold codes into ``labels``."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self._code: dict = {}

    def code(self, key, make: Callable[[], str]) -> int:
        c = self._code.get(key)
        if c is None:
            c = self._code[key] = len(self.labels)
            self.labels.append(make())
        return c

    def text(self, text: str) -> int:
        return self.code(text, lambda: text)


def _reason_codes(texts: Texts, info: FactorInfo, x: np.ndarray) -> np.ndarray:
    """The code of the reason for every input of ``x``, formatting each distinct text about
    once. With the advice's ``reason_step``, values that round to the same multiple of
    1/step are grouped; a group is trusted when its smallest and largest value read the
    same (the texts are monotone in the value), else its values are worded one by one."""
    def reason(v):
        return info.reason(info.display(v))
    step = info.reason_step
    key = x if step is None else np.rint(x * step)
    uniq, inverse = np.unique(key, return_inverse=True)
    if step is None:
        return np.array([texts.text(reason(v)) for v in uniq.tolist()],
                        dtype=np.int32)[inverse]
    lo = np.full(len(uniq), np.inf)
    hi = np.full(len(uniq), -np.inf)
    with np.errstate(invalid="ignore"):  # the group of unknown (NaN) values
        np.minimum.at(lo, inverse, x)
        np.maximum.at(hi, inverse, x)
    codes = np.empty(len(uniq), dtype=np.int32)
    out = np.empty(len(x), dtype=np.int32)
    for g, (a, b) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
        text = reason(a)
        if text == reason(b):
            codes[g] = texts.text(text)
        else:  # the hint does not hold here
            codes[g] = -1
            members = np.flatnonzero(inverse == g)
            out[members] = [texts.text(reason(v)) for v in x[members].tolist()]
    grouped = codes[inverse]
    return np.where(grouped >= 0, grouped, out)


@dataclass
class Explanation:
    """Scores and explanations of ``n`` campaigns as arrays (``k`` factors explained each).

    Built by :meth:`riskmodel.Scorer.explain_batch`. Codes index the scorer's tuples:
    ``top`` its factors, ``band`` :data:`BANDS`, ``reasons`` :attr:`texts`; ``warnings``
    has one column per code of :data:`riskmodel.advice.WARNING_CODES`.
    """

    batch: CampaignBatch
    about: tuple[FactorInfo, ...]
    version: str
    base: float
    risk: np.ndarray  # (n,)
    log_odds: np.ndarray  # (n,)
    band: np.ndarray  # (n,) codes into BANDS
    contributions: np.ndarray  # (n, factors), calibrated log-odds
    family_totals: np.ndarray  # (n, families), in FAMILIES order
    inputs: dict[str, np.ndarray]  # each factor's input
    top: np.ndarray  # (n, k) factor indices, largest |contribution| first
    top_log_odds: np.ndarray  # (n, k)
    probability_points: np.ndarray  # (n, k)
    raises: np.ndarray  # (n, k) bool
    what_if_risk: np.ndarray  # (n, k): risk with the factor at its target; NaN: no what-if
    reasons: np.ndarray  # (n, k) codes into texts; -1: none (the factor lowers risk)
    texts: list[str]
    warnings: np.ndarray  # (n, len(WARNING_CODES)) bool
    locale: str = "en"  # the language of the texts (riskmodel.LOCALES)
    # (n, factors) riskmodel.coverage codes, 0 = covered; None for a model without coverage
    out_of_depth: np.ndarray | None = None
    coverage: Coverage | None = None
    # the plans (riskmodel.plan.plan_batch): steps as indices into plan_actions, the risk
    # after each, the risk and band after the whole plan
    plan_steps: np.ndarray | None = None  # (n, actions), -1 after the last step
    plan_risk: np.ndarray | None = None  # (n, actions)
    plan_failure_risk: np.ndarray | None = None  # (n,)
    plan_band: np.ndarray | None = None  # (n,) codes into BANDS
    plan_actions: tuple[Action, ...] = ()

    def plan_of(self, i: int) -> tuple[PlanStep, ...]:
        """Row ``i``'s plan as :class:`PlanStep` entries (their words in :attr:`locale`)."""
        if self.plan_steps is None or self.plan_risk is None:
            return ()
        steps = self.plan_steps[i]
        k = int((steps >= 0).sum())
        return make_steps(self.about, self.plan_actions, steps[:k].tolist(),
                          self.plan_risk[i, :k].tolist(), float(self.risk[i]))

    def out_of_depth_of(self, i: int) -> tuple[OutOfDepth, ...]:
        """Row ``i``'s :class:`OutOfDepth` entries, in factor order (their messages in
        :attr:`locale`)."""
        if self.out_of_depth is None or self.coverage is None:
            return ()
        codes = self.out_of_depth[i]
        return tuple(self.coverage.describe(
            j, int(codes[j]), float(self.inputs[self.about[j].name][i]),
            self.about[j].display(self.inputs[self.about[j].name][i]), self.locale)
            for j in np.flatnonzero(codes).tolist())

    @property
    def n(self) -> int:
        return len(self.risk)

    def rows(self) -> list[CampaignScore]:
        """The shape of the API: one :class:`CampaignScore` per campaign."""
        names = [info.name for info in self.about]
        ids = self.batch["campaign_id"]
        risk, log_odds, band = self.risk.tolist(), self.log_odds.tolist(), self.band.tolist()
        contributions, totals = self.contributions.tolist(), self.family_totals.tolist()
        top, top_log_odds = self.top.tolist(), self.top_log_odds.tolist()
        points, what_if = self.probability_points.tolist(), self.what_if_risk.tolist()
        reasons = self.reasons.tolist()
        flagged = np.any(self.warnings, axis=1).tolist()  # numpy types .any(axis=1) as a bool
        deep = ([False] * self.n if self.out_of_depth is None
                else np.any(self.out_of_depth, axis=1).tolist())
        planned = ([False] * self.n if self.plan_steps is None
                   else (self.plan_steps[:, 0] >= 0).tolist() if self.plan_steps.shape[1]
                   else [False] * self.n)
        plan_risk = ([None] * self.n if self.plan_failure_risk is None
                     else self.plan_failure_risk.tolist())
        plan_band = ([None] * self.n if self.plan_band is None else self.plan_band.tolist())
        texts = self.texts
        out = []
        for i in range(self.n):
            warnings: tuple = ()
            if flagged[i]:
                row = {k: v[i] for k, v in self.batch.columns.items()}
                warnings = tuple(readiness_warning(WARNING_CODES[w], row, self.locale)
                                 for w in np.flatnonzero(self.warnings[i]))
            factors = []
            for j, c, pp, r, p in zip(top[i], top_log_odds[i], points[i], reasons[i],
                                      what_if[i], strict=True):
                info = self.about[j]
                factors.append(explain_factor(info, info.display(self.inputs[names[j]][i]), c,
                                              pp, texts[r] if r >= 0 else None, p, risk[i]))
            out.append(build_score(
                ids[i], risk[i], log_odds[i], self.base, band[i],
                dict(zip(names, contributions[i], strict=True)),
                dict(zip(FAMILIES, totals[i], strict=True)), tuple(factors), warnings,
                self.version, self.locale, self.out_of_depth_of(i) if deep[i] else (),
                self.plan_of(i) if planned[i] else (), plan_risk[i], plan_band[i]))
        return out


def explain_top(about: Sequence[FactorInfo], inputs: dict[str, np.ndarray], risk: np.ndarray,
                log_odds: np.ndarray, contributions: np.ndarray, top: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """For the factors at ``top``: their log-odds, probability points, whether they raise
    risk, and the codes of their reasons into a table of texts (the rules above, on
    arrays)."""
    n, k = top.shape
    c = np.take_along_axis(contributions, top, axis=1)
    points = probability_points(risk[:, None], log_odds[:, None], c)
    up = c > 0
    texts = Texts()  # per batch: distinct values (sales, delays...) grow with the file
    reasons = np.full((n, k), -1, dtype=np.int32)
    for j in np.unique(top[up]).tolist():
        cells = (top == j) & up
        rows = np.nonzero(cells)[0]
        reasons[cells] = _reason_codes(texts, about[j], inputs[about[j].name][rows])
    return c, points, up, reasons, texts.labels


def family_totals_one(families: Sequence[str]) -> Callable[[list[float]], dict[str, float]]:
    """:func:`family_totals` for one campaign's list of contributions, as a dict: the same
    sums, added in the same order, as one generated expression (built once per model; a
    loop of slices and sums costs more than the additions on the one-campaign path)."""
    terms = {fam: " + ".join(["0"] + [f"c[{j}]" for j, f in enumerate(families) if f == fam])
             for fam in FAMILIES}
    body = ", ".join(f"{fam!r}: {expr}" for fam, expr in terms.items())
    return eval(f"lambda c: {{{body}}}")  # noqa: S307  generated from the factor families


def family_totals(families: Sequence[str], contributions: np.ndarray) -> np.ndarray:
    """Each family's total (columns in :data:`FAMILIES` order), its factors added in
    contract order."""
    index = {f: i for i, f in enumerate(FAMILIES)}
    totals = np.zeros((len(contributions), len(FAMILIES)))
    for j, fam in enumerate(families):
        totals[:, index[fam]] += contributions[:, j]
    return totals
