"""The additive risk model: exact, cheap explanations by construction.

The model's log-odds is a sum of one term per factor plus explicit interaction terms:

- a **numeric** factor is a piecewise-linear function of its value with knots at training
  quantiles (a degree-1 spline, written as a sum of ramps so that a sign bound on each
  coefficient makes it monotone), plus one coefficient for "unknown";
- a **level** factor (a category or a boolean) has one coefficient per level and one for
  "unknown";
- an **interaction** lets a numeric *driver*'s piecewise-linear effect vary with the level of
  a *modifier* (e.g. late materials hurt fixed-date placements more). Its value is attributed
  wholly to the driver, the cause a brand can act on; the modifier's own main effect stays
  with the modifier. This rule keeps the sum exact and is documented in docs/model.md.

A monotone affine calibration ``a * eta + b`` (``a > 0``) maps the raw log-odds ``eta`` to the
calibrated one, so every contribution is simply scaled by ``a``.

Two evaluation paths exist and agree to rounding: the design matrix (``transform`` +
``BoundedLogisticRegression``) used for fitting and as ``predict_proba``, and the compiled
tables (``np.interp`` and lookups) used for scoring and explanations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.special import expit

from riskmodel.estimators import BoundedLogisticRegression
from riskmodel.features import FACTORS, Factor, factor_values
from riskmodel.validation import CampaignBatch

DEFAULT_INTERACTIONS = (("material_delay_days", "campaign_type"),
                        ("goal_alignment_score", "mou_signed"))


@dataclass
class Term:
    """One additive term, fitted: what it reads and its compiled value tables."""

    factor: str  # the factor its value is attributed to
    kind: str  # "numeric", "level" or "interaction"
    modifier: str | None = None
    knots: np.ndarray | None = None
    n_levels: int = 0  # levels incl. the trailing "unknown" level
    optional: bool = True
    monotone: int = 0
    start: int = 0  # first column in the design matrix
    width: int = 0
    # compiled after fitting
    values: np.ndarray | None = None  # numeric: at knots; level: per level; interaction: LxK
    unknown: float = 0.0  # numeric: value when unknown

    def design(self, x: np.ndarray, m: np.ndarray | None = None) -> np.ndarray:
        """This term's columns of the design matrix."""
        n = len(x)
        if self.kind == "level":
            out = np.zeros((n, self.n_levels))
            out[np.arange(n), np.where(x < 0, self.n_levels - 1, x)] = 1.0
            return out
        ramps = _ramps(x, self.knots)
        if self.kind == "numeric":
            if self.optional:
                ramps = np.column_stack([ramps, np.isnan(x).astype(float)])
            return ramps
        lvl = np.where(m < 0, self.n_levels - 1, m)
        k = ramps.shape[1]
        out = np.zeros((n, self.n_levels * k))
        for level in range(self.n_levels):
            rows = lvl == level
            out[rows, level * k:(level + 1) * k] = ramps[rows]
        return out

    def compile(self, coef: np.ndarray) -> None:
        """Turn this term's coefficients into value tables."""
        c = coef[self.start:self.start + self.width]
        if self.kind == "level":
            self.values = c.copy()
        elif self.kind == "numeric":
            k = len(self.knots) - 1
            self.values = np.concatenate([[0.0], np.cumsum(c[:k])])
            self.unknown = float(c[k]) if self.optional else 0.0
        else:
            k = len(self.knots) - 1
            steps = c.reshape(self.n_levels, k)
            self.values = np.column_stack([np.zeros(self.n_levels), np.cumsum(steps, axis=1)])

    def evaluate(self, x: np.ndarray, m: np.ndarray | None = None) -> np.ndarray:
        """This term's value per row, from the compiled tables."""
        if self.kind == "level":
            return self.values[np.where(x < 0, self.n_levels - 1, x)]
        if self.kind == "numeric":
            if len(self.knots) < 2:
                out = np.zeros(len(x))
            else:
                out = np.interp(x, self.knots, self.values)
            return np.where(np.isnan(x), self.unknown, out) if self.optional else out
        if len(self.knots) < 2:
            return np.zeros(len(x))
        t = self.knots
        j = np.clip(np.searchsorted(t, x, side="right") - 1, 0, len(t) - 2)
        with np.errstate(invalid="ignore"):
            frac = np.clip((x - t[j]) / (t[j + 1] - t[j]), 0.0, 1.0)
        lvl = np.where(m < 0, self.n_levels - 1, m)
        v = self.values[lvl, j] * (1 - frac) + self.values[lvl, j + 1] * frac
        return np.where(np.isnan(x), 0.0, v)


def _ramps(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    if len(knots) < 2:
        return np.zeros((len(x), 0))
    lo, hi = knots[:-1], knots[1:]
    with np.errstate(invalid="ignore"):
        r = np.clip((x[:, None] - lo) / (hi - lo), 0.0, 1.0)
    return np.nan_to_num(r, nan=0.0)


def _knots(x: np.ndarray, n_knots: int) -> np.ndarray:
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return np.zeros(0)
    # the outer knots sit at the 0.5th and 99.5th percentiles: the effect is flat beyond
    # them instead of following one extreme value
    return np.unique(np.quantile(x, np.linspace(0.005, 0.995, n_knots + 1)))


@dataclass
class AdditiveRiskModel:
    """Additive model of failure log-odds over the campaign factors.

    Parameters
    ----------
    n_knots : int
        Intervals of each numeric factor's piecewise-linear effect (1 = linear).
    interaction_knots : int
        Intervals of each interaction's effect.
    interactions : tuple of (driver, modifier)
        Numeric driver whose effect varies with the modifier's level.
    alpha : float
        L2 penalty per training row.
    monotone : bool
        Enforce the declared monotone directions of :data:`riskmodel.features.MONOTONE`.
    """

    n_knots: int = 8
    interaction_knots: int = 5
    interactions: tuple = DEFAULT_INTERACTIONS
    alpha: float = 1e-4
    monotone: bool = True
    factors: tuple[Factor, ...] = FACTORS
    # learned state
    terms_: list[Term] = field(default_factory=list)
    solver_: BoundedLogisticRegression | None = None
    factor_means_: np.ndarray | None = None  # mean term value per factor on training data
    calibration_: tuple[float, float] = (1.0, 0.0)
    bands_: tuple[float, float] | None = None  # risk cut-offs: medium from, high from
    name: str = "additive"

    @property
    def factor_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.factors)

    def _inputs(self, batch: CampaignBatch) -> dict[str, np.ndarray]:
        return {f.name: factor_values(batch, f) for f in self.factors}

    def _setup(self, inputs: dict[str, np.ndarray]) -> None:
        by_name = {f.name: f for f in self.factors}
        terms: list[Term] = []
        for f in self.factors:
            if f.kind == "numeric":
                terms.append(Term(f.name, "numeric", knots=_knots(inputs[f.name], self.n_knots),
                                  optional=f.optional, monotone=f.monotone if self.monotone
                                  else 0))
            else:
                terms.append(Term(f.name, "level", n_levels=len(f.levels) + 1))
        for driver, modifier in self.interactions:
            d, m = by_name[driver], by_name[modifier]
            if d.kind != "numeric" or m.kind != "level":
                raise ValueError(f"interaction ({driver}, {modifier}) needs a numeric driver "
                                 "and a category or boolean modifier")
            terms.append(Term(driver, "interaction", modifier=modifier,
                              knots=_knots(inputs[driver], self.interaction_knots),
                              n_levels=len(m.levels) + 1,
                              monotone=d.monotone if self.monotone else 0))
        start = 0
        for t in terms:
            t.width = t.design(np.zeros(1) if t.kind != "level" else np.zeros(1, np.int16),
                               np.zeros(1, np.int16)).shape[1]
            t.start = start
            start += t.width
        self.terms_ = terms

    def transform(self, batch: CampaignBatch) -> np.ndarray:
        """The design matrix (rows x model columns)."""
        inputs = self._inputs(batch)
        blocks = [t.design(inputs[t.factor], inputs.get(t.modifier)) for t in self.terms_]
        return np.hstack(blocks) if blocks else np.zeros((batch.n, 0))

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        p = sum(t.width for t in self.terms_)
        lo, hi = np.full(p, -np.inf), np.full(p, np.inf)
        for t in self.terms_:
            if t.kind == "level" or not t.monotone:
                continue
            k = len(t.knots) - 1
            cols = [t.start + i for i in range(t.width)
                    if t.kind == "interaction" or i < k]  # not the "unknown" column
            (lo if t.monotone > 0 else hi)[cols] = 0.0
        return lo, hi

    def fit(self, batch: CampaignBatch, y: np.ndarray) -> AdditiveRiskModel:
        """Fit on typed campaigns and 0/1 outcomes (1 = failed)."""
        inputs = self._inputs(batch)
        self._setup(inputs)
        X = sparse.csr_array(self.transform(batch))  # a quarter dense: 3x faster products
        lo, hi = self._bounds()
        self.solver_ = BoundedLogisticRegression(alpha=self.alpha, lower=lo, upper=hi)
        self.solver_.fit(X, np.asarray(y, dtype=int))
        coef = self.solver_.coef_[0]
        for t in self.terms_:
            t.compile(coef)
        raw = self._term_values(inputs)
        self.factor_means_ = raw.mean(axis=0)
        self.calibration_ = (1.0, 0.0)
        return self

    # ------------------------------------------------------------------ two evaluation paths

    def raw_decision_function(self, batch: CampaignBatch) -> np.ndarray:
        """Uncalibrated log-odds through the design matrix (the reference path)."""
        return self.solver_.decision_function(self.transform(batch))

    def decision_function(self, batch: CampaignBatch) -> np.ndarray:
        a, b = self.calibration_
        return a * self.raw_decision_function(batch) + b

    def predict_proba(self, batch: CampaignBatch) -> np.ndarray:
        """Calibrated probabilities ``[P(success), P(failure)]`` through the design matrix."""
        p = expit(self.decision_function(batch))
        return np.column_stack([1 - p, p])

    def _term_values(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Raw term values summed per factor (rows x factors), from the compiled tables."""
        index = {name: i for i, name in enumerate(self.factor_names)}
        out = np.zeros((len(next(iter(inputs.values()))), len(self.factors)))
        for t in self.terms_:
            out[:, index[t.factor]] += t.evaluate(inputs[t.factor], inputs.get(t.modifier))
        return out

    def contributions(self, batch: CampaignBatch) -> tuple[float, np.ndarray]:
        """Base value and per-factor contributions on the calibrated log-odds scale.

        ``base + contributions.sum(axis=1)`` is the calibrated log-odds of each row.
        """
        a, b = self.calibration_
        raw = self._term_values(self._inputs(batch))
        base = a * (float(self.solver_.intercept_[0]) + float(self.factor_means_.sum())) + b
        return base, a * (raw - self.factor_means_)

    def set_calibration(self, slope: float, intercept: float) -> None:
        if not slope > 0:
            raise ValueError(f"calibration slope must be > 0 to keep the order; got {slope}")
        self.calibration_ = (float(slope), float(intercept))

    def shape(self, factor: str, grid: np.ndarray | None = None, level: int | None = None):
        """The factor's main-effect curve (numeric) or per-level values, centred, calibrated
        scale: for model cards."""
        a = self.calibration_[0]
        i = self.factor_names.index(factor)
        term = next(t for t in self.terms_ if t.factor == factor and t.kind != "interaction")
        if term.kind == "level":
            return a * (term.values - self.factor_means_[i])
        return a * (term.evaluate(grid) - self.factor_means_[i])
