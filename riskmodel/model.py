"""The additive risk model: exact, cheap explanations by construction.

The model's log-odds is a sum of one term per factor plus explicit interaction terms:

- a **numeric** factor is a piecewise-linear function of its value with knots at training
  quantiles (a degree-1 spline, written as a sum of ramps so that a sign bound on each
  coefficient makes it monotone), plus one coefficient for "unknown";
- a **level** factor (a category or a boolean) has one coefficient per level and one for
  "unknown";
- an **interaction** lets a numeric *driver*'s piecewise-linear effect vary with the level of
  a *modifier* (e.g. late materials hurt fixed-date placements more).

**Attribution** (``attribution_``, documented in docs/model.md). A fitted interaction table
is *purified* under the training distribution (:func:`purify`): its mean over the modifier's
levels (a curve in the driver) moves to the driver's main effect, its mean over the driver's
training values (one value per level) to the modifier's main effect, so what remains has zero
mean along each axis. Each factor's contribution is then its exact interventional Shapley
value against the training campaigns: its main effects minus their training mean, plus half
of each pure interaction it takes part in, minus half that part's training mean. The total
log-odds never changes: only where it is booked. Models fitted before this rule
(``attribution_ == "driver"``) gave an interaction's whole value to its driver; they are
read with that rule, which their metadata states.

A monotone affine calibration ``a * eta + b`` (``a > 0``) maps the raw log-odds ``eta`` to the
calibrated one, so every contribution is simply scaled by ``a``.

Two evaluation paths exist and agree to rounding: the design matrix (``transform`` +
``BoundedLogisticRegression``) used for fitting and as ``predict_proba``, and the compiled
tables (``np.interp`` and lookups) used for scoring and explanations.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from riskmodel.campaigns import CampaignBatch
from riskmodel.coverage import fit_coverage
from riskmodel.features import FACTORS, Factor, factor_values, level_codes

if TYPE_CHECKING:  # fitting's tools, imported when fitting: scoring needs neither
    from sklearn.exceptions import NotFittedError

    from riskmodel.estimators import BoundedLogisticRegression

DEFAULT_INTERACTIONS = (("material_delay_days", "campaign_type"),
                        ("goal_alignment_score", "mou_signed"))

# How a model attributes its interaction terms (see the module's docstring)
SHAPLEY_PURIFIED = "shapley-purified"
DRIVER = "driver"  # models fitted before purification
ATTRIBUTIONS = (SHAPLEY_PURIFIED, DRIVER)


@dataclass
class Term:
    """One additive term, fitted: what it reads and its compiled value tables."""

    # what riskmodel/artifact.py saves of a term: arrays, then JSON values
    STATE_ARRAYS = ("knots", "values", "unknown_values", "driver_values", "level_shares")
    STATE_JSON = ("factor", "kind", "modifier", "n_levels", "optional", "monotone", "start",
                  "width", "unknown", "driver_unknown", "pure_mean")

    factor: str  # the factor its value is attributed to
    kind: str  # "numeric", "level" or "interaction"
    modifier: str | None = None
    knots: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_levels: int = 0  # levels incl. the trailing "unknown" level
    optional: bool = True
    monotone: int = 0
    start: int = 0  # first column in the design matrix
    width: int = 0
    # compiled after fitting
    values: np.ndarray = field(  # numeric: at knots; level: per level; interaction: the
        default_factory=lambda: np.zeros(0))  # (pure, once purified) LxK table
    unknown: float = 0.0  # numeric: value when unknown
    # an interaction once purified (plain arrays and floats; empty / 0 before):
    unknown_values: np.ndarray = field(  # (L,) the pure part when the driver is unknown
        default_factory=lambda: np.zeros(0))
    driver_values: np.ndarray = field(  # at knots: the part moved to the driver's main
        default_factory=lambda: np.zeros(0))  # effect (the mean over the modifier's levels)
    driver_unknown: float = 0.0  # that part when the driver is unknown
    level_shares: np.ndarray = field(  # (L,) the modifier's level shares in training
        default_factory=lambda: np.zeros(0))
    pure_mean: float = 0.0  # the pure part's mean over the training campaigns (joint)

    def __setstate__(self, state: dict) -> None:
        # models saved while "no knots" (a level term) was None: read it as an empty array;
        # models saved before purification have none of its arrays
        for name in ("knots", "values", "unknown_values", "driver_values", "level_shares"):
            if state.get(name) is None:
                state[name] = np.zeros(0)
        state.setdefault("driver_unknown", 0.0)
        state.setdefault("pure_mean", 0.0)
        self.__dict__.update(state)

    def modifier_input(self, inputs: dict[str, np.ndarray]) -> np.ndarray | None:
        """The modifier's input for an interaction, None for a term without one."""
        return None if self.modifier is None else inputs.get(self.modifier)

    def design(self, x: np.ndarray, m: np.ndarray | None = None) -> np.ndarray:
        """This term's columns of the design matrix."""
        n = len(x)
        if self.kind == "level":
            out = np.zeros((n, self.n_levels))
            out[np.arange(n), level_codes(x, self.n_levels - 1)] = 1.0
            return out
        ramps = _ramps(x, self.knots)
        if self.kind == "numeric":
            if self.optional:
                ramps = np.column_stack([ramps, np.isnan(x).astype(float)])
            return ramps
        if m is None:
            raise ValueError(f"the interaction of {self.factor} needs {self.modifier}'s input")
        lvl = level_codes(m, self.n_levels - 1)
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
            return self.values[level_codes(x, self.n_levels - 1)]
        if self.kind == "numeric":
            if len(self.knots) < 2:
                out = np.zeros(len(x))
            else:
                out = np.interp(x, self.knots, self.values)
            return np.where(np.isnan(x), self.unknown, out) if self.optional else out
        if m is None:
            raise ValueError(f"the interaction of {self.factor} needs {self.modifier}'s input")
        table, unknown = self.total_table()
        return interaction_value(self.knots, table, unknown, x,
                                 level_codes(m, self.n_levels - 1))

    def total_table(self) -> tuple[np.ndarray, np.ndarray]:
        """An interaction's whole value (pure part plus the part moved to the driver) as an
        LxK table on its knots and an (L,) row for an unknown driver."""
        table = self.values
        unknown = self.unknown_values if len(self.unknown_values) else np.zeros(
            self.n_levels)
        if len(self.driver_values):
            table = table + self.driver_values[None, :]
            unknown = unknown + self.driver_unknown
        return table, unknown


def interaction_value(knots: np.ndarray, table: np.ndarray, unknown: np.ndarray,
                      x: np.ndarray, lvl: np.ndarray) -> np.ndarray:
    """Per row, the LxK ``table`` read at level ``lvl`` and interpolated in ``x`` on
    ``knots`` (flat beyond them), ``unknown[lvl]`` where ``x`` is NaN."""
    return _read(table, unknown, lvl, *_cell(knots, x))


def _cell(knots: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each ``x`` falls on ``knots``: interval, fraction within it, and unknown."""
    unknown = np.isnan(x)
    if len(knots) < 2:  # no spread in training: a flat zero line
        return np.zeros(len(x), dtype=np.intp), np.zeros(len(x)), unknown
    # np.clip costs ~10 us on tiny arrays; minimum/maximum do not
    j = np.minimum(np.maximum(np.searchsorted(knots, x, side="right") - 1, 0), len(knots) - 2)
    with np.errstate(invalid="ignore"):
        frac = np.minimum(np.maximum((x - knots[j]) / (knots[j + 1] - knots[j]), 0.0), 1.0)
    return j, frac, unknown


def _read(table: np.ndarray, unknown: np.ndarray, lvl: np.ndarray, j: np.ndarray,
          frac: np.ndarray, nan: np.ndarray) -> np.ndarray:
    if table.shape[1] < 2:
        return np.where(nan, unknown[lvl], 0.0)
    v = table[lvl, j] * (1 - frac) + table[lvl, j + 1] * frac
    return np.where(nan, unknown[lvl], v)


def purify(term: Term, x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, float]:
    """Purify a fitted interaction ``term`` in place under the training distribution of its
    driver's inputs ``x`` and its modifier's inputs ``m``; return what moves to the
    modifier's main effect (one value per level) and the pure part's joint training mean.

    With ``p`` the modifier's level shares and ``E_x`` the mean over the training values of
    the driver (unknowns included), the interaction ``g(x, l)`` splits exactly as
    ``g = pure + A(x) + B(l) - c`` with ``A(x) = sum_l p_l g(x, l)``,
    ``B(l) = E_x g(x, l)`` and ``c = sum_l p_l B(l)``. The pure part has zero mean along
    each axis under the product of the two marginals (the functional-ANOVA purification of
    Lengerich et al., 2020; under a product of marginals one sweep is its fixed point).
    ``A - c`` stays on the term's knots as the driver's part (``driver_values``), ``B``
    is returned for the modifier's level table, and the term keeps ``pure``.
    """
    n_levels = term.n_levels
    lvl = level_codes(m, n_levels - 1)
    shares = np.bincount(lvl, minlength=n_levels).astype(float) / max(len(lvl), 1)
    g, g_unknown = term.total_table()
    # B(l): the term at level l over the driver's training values (an unknown driver
    # reads the unknown row)
    by_level = np.array([interaction_value(term.knots, g, g_unknown, x,
                                           np.full(len(x), level)).mean() if len(x) else 0.0
                         for level in range(n_levels)])
    a_knots = shares @ g  # A at the knots: linear in the table, so exact between them
    a_unknown = float(shares @ g_unknown)
    c = float(shares @ by_level)
    term.values = g - a_knots[None, :] - by_level[:, None] + c
    term.unknown_values = g_unknown - a_unknown - by_level + c
    term.driver_values = a_knots - c
    term.driver_unknown = a_unknown - c
    term.level_shares = shares
    term.pure_mean = float(interaction_value(term.knots, term.values, term.unknown_values,
                                             x, lvl).mean()) if len(x) else 0.0
    return by_level, term.pure_mean


def _lerp(knots: list[float], values: list[float], x: float, unknown: float) -> float:
    if x != x:
        return unknown
    if len(knots) < 2:
        return 0.0
    if x <= knots[0]:
        return values[0]
    if x >= knots[-1]:
        return values[-1]
    j = bisect_right(knots, x) - 1
    frac = (x - knots[j]) / (knots[j + 1] - knots[j])
    return values[j] * (1 - frac) + values[j + 1] * frac


def _line(knots: np.ndarray, rows) -> tuple[list[float], list[list[float]]]:
    """Knots and value rows as Python floats; fewer than two knots (a factor with no
    spread in training) as a flat zero line over two, which every lerp reads as 0."""
    if len(knots) < 2:
        return [0.0, 1.0], [[0.0, 0.0] for _ in rows]
    return list(map(float, knots)), [list(map(float, row)) for row in rows]


def _code(x: float, unknown: int) -> int:
    return unknown if x != x or x < 0 else int(x)


def _modifier(t: Term) -> str:
    """The modifier an interaction term reads (every interaction has one)."""
    if t.modifier is None:
        raise ValueError(f"the interaction term of {t.factor} has no modifier")
    return t.modifier


def driver_share(attribution: str) -> float:
    """The share of a pure interaction booked to its driver under ``attribution``."""
    if attribution == SHAPLEY_PURIFIED:
        return 0.5
    if attribution == DRIVER:
        return 1.0
    raise ValueError(f"unknown attribution convention {attribution!r}; expected one of "
                     f"{', '.join(ATTRIBUTIONS)}")


def _shares(t: Term, share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                            np.ndarray | None]:
    """An interaction's value split into the driver's table and unknown row (its part of
    the main effect plus ``share`` of the pure part) and the modifier's (the rest of the
    pure part; None when the driver takes it all)."""
    pure = t.values
    unknown = t.unknown_values if len(t.unknown_values) else np.zeros(t.n_levels)
    d, du = share * pure, share * unknown
    if len(t.driver_values):
        d, du = d + t.driver_values[None, :], du + t.driver_unknown
    if share == 1.0:
        return d, du, None, None
    return d, du, (1 - share) * pure, (1 - share) * unknown


def _one_shares(knots: np.ndarray, d: np.ndarray, du: np.ndarray, m: np.ndarray | None,
                mu: np.ndarray | None) -> tuple[list[float], list[list[float]],
                                                list[list[float]]]:
    """:func:`_shares` as Python lists for one campaign: the knots, and per modifier code
    (the unknown level last) each share's values at the knots followed by its value for an
    unknown driver."""
    if m is None or mu is None:
        m, mu = np.zeros_like(d), np.zeros_like(du)
    k, rows_d = _line(knots, d)
    _, rows_m = _line(knots, m)
    return (k, [r + [float(u)] for r, u in zip(rows_d, du, strict=True)],
            [r + [float(u)] for r, u in zip(rows_m, mu, strict=True)])


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


class CompiledTables:
    """The fitted terms arranged for scoring: numeric terms evaluated with ``np.interp``,
    all level terms with one gather from a flat table, and the same tables as Python lists
    for one campaign at a time."""

    def __init__(self, model: AdditiveRiskModel) -> None:
        names = model.factor_names
        index = {n: i for i, n in enumerate(names)}
        numeric = [t for t in model.terms_ if t.kind == "numeric"]
        levels = [t for t in model.terms_ if t.kind == "level"]
        self.n_factors = len(names)
        self.numeric = [(index[t.factor], t) for t in numeric]
        self.num_names = [t.factor for t in numeric]
        self.lvl_names = [t.factor for t in levels]
        self.lvl_idx = np.array([index[t.factor] for t in levels], dtype=int)
        sizes = np.array([t.n_levels for t in levels], dtype=int)
        self.lvl_last = sizes - 1
        self.lvl_offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
        self.lvl_flat = np.concatenate([t.values for t in levels]) if levels else np.zeros(0)
        # each interaction as two LxK tables on its knots, the driver's share and the
        # modifier's (with a row each for an unknown driver): see _shares
        share = driver_share(model.attribution_)
        self.interactions = [(index[t.factor], index[_modifier(t)], t, _modifier(t),
                              *_shares(t, share))
                             for t in model.terms_ if t.kind == "interaction"]
        self.reads = {name: [t for t in model.terms_ if name in (t.factor, t.modifier)]
                      for name in names}
        # the same tables as Python lists, for one campaign at a time (no numpy per call);
        # a curve of fewer than two knots is zero everywhere, written as a flat line
        self._one_num = [(index[t.factor], t.factor, *_line(t.knots, [t.values]), t.unknown)
                         for t in numeric]
        # a level's value by its code (an int, or a float for a yes/no): an unknown code
        # (-1, NaN) is not a key and reads the "unknown" value
        self._one_lvl: list[tuple[int, str, dict[float, float], float]] = [
            (index[t.factor], t.factor, dict(enumerate(map(float, t.values[:-1]))),
             float(t.values[-1])) for t in levels]
        # per interaction: driver's and modifier's index, their inputs, the knots, and per
        # modifier code the two shares' value rows with the unknown-driver value appended
        self._one_int = [(i, j, t.factor, modifier, *_one_shares(t.knots, d, du, mt, mu))
                         for i, j, t, modifier, d, du, mt, mu in self.interactions]
        self._one_reads = {name: (
            [(k, v[0], u) for _, n, k, v, u in self._one_num if n == name],
            [[*by_code.values(), u] for _, n, by_code, u in self._one_lvl if n == name],
            [(d, m, k, [[a + b for a, b in zip(rd, rm, strict=True)]
                        for rd, rm in zip(td, tm, strict=True)])
             for _, _, d, m, k, td, tm in self._one_int if name in (d, m)])
            for name in names}

    def delta_one(self, x: dict[str, float], factor: str, value: float) -> float:
        """:meth:`term_delta` for one campaign: the raw log-odds change when ``factor``'s
        input becomes ``value``."""
        num, lvl, inter = self._one_reads[factor]
        delta = 0.0
        for knots, values, unknown in num:
            delta += _lerp(knots, values, value, unknown) - _lerp(knots, values, x[factor],
                                                                  unknown)
        for values in lvl:
            last = len(values) - 1
            delta += values[_code(value, last)] - values[_code(x[factor], last)]
        for driver, modifier, knots, table in inter:
            last = len(table) - 1
            v, m = x[driver], x[modifier]  # before, and after the change:
            v2 = value if driver == factor else v
            m2 = value if modifier == factor else m
            row2, row = table[_code(m2, last)], table[_code(m, last)]
            delta += (_lerp(knots, row2[:-1], v2, row2[-1])
                      - _lerp(knots, row[:-1], v, row[-1]))
        return delta

    def raw_one(self, x: dict[str, float]) -> list[float]:
        """:meth:`raw` for one campaign given as plain numbers (NaN = unknown; levels as
        codes, -1 or NaN = unknown). Same tables, same arithmetic as :func:`_lerp`, written
        out here: a function call per term is a measurable share of one campaign."""
        out = [0.0] * self.n_factors
        for i, name, knots, (values,), unknown in self._one_num:
            v = x[name]
            if v != v:
                out[i] = unknown
            elif v <= knots[0]:
                out[i] = values[0]
            elif v >= knots[-1]:
                out[i] = values[-1]
            else:
                j = bisect_right(knots, v) - 1
                frac = (v - knots[j]) / (knots[j + 1] - knots[j])
                out[i] = values[j] * (1 - frac) + values[j + 1] * frac
        for i, name, by_code, unknown in self._one_lvl:
            out[i] = by_code.get(x[name], unknown)
        for i, k, driver, modifier, knots, d_table, m_table in self._one_int:
            v = x[driver]
            c = x[modifier]
            code = -1 if c != c or c < 0 else int(c)
            d, m = d_table[code], m_table[code]  # the last value: an unknown driver
            if v != v:
                out[i] += d[-1]
                out[k] += m[-1]
            elif v <= knots[0]:
                out[i] += d[0]
                out[k] += m[0]
            elif v >= knots[-1]:
                out[i] += d[-2]
                out[k] += m[-2]
            else:
                j = bisect_right(knots, v) - 1
                frac = (v - knots[j]) / (knots[j + 1] - knots[j])
                out[i] += d[j] * (1 - frac) + d[j + 1] * frac
                out[k] += m[j] * (1 - frac) + m[j + 1] * frac
        return out

    def raw(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Uncentred, uncalibrated value of every factor (rows x factors)."""
        n = len(inputs[self.lvl_names[0]]) if self.lvl_names else len(
            inputs[self.num_names[0]])
        # column-major: each factor's column is written contiguously (a row-major table
        # of 21 columns made every column write a strided pass over the whole chunk)
        out = np.empty((n, self.n_factors), order="F")
        for i, t in self.numeric:
            out[:, i] = t.evaluate(inputs[t.factor])
        for i, name, last, offset in zip(self.lvl_idx, self.lvl_names, self.lvl_last,
                                         self.lvl_offsets, strict=True):
            x = inputs[name]  # one column at a time: no (rows x levels) copy
            unknown = (np.isnan(x) | (x < 0)) if x.dtype.kind == "f" else (x < 0)
            out[:, i] = self.lvl_flat[np.where(unknown, last, x).astype(np.intp) + offset]
        for i, k, t, modifier, d, du, m, mu in self.interactions:
            lvl = level_codes(inputs[modifier], t.n_levels - 1)
            cell = _cell(t.knots, inputs[t.factor])
            out[:, i] += _read(d, du, lvl, *cell)
            if m is not None and mu is not None:
                out[:, k] += _read(m, mu, lvl, *cell)
        return out

    def term_delta(self, factor: str, old: dict[str, np.ndarray],
                   new: dict[str, np.ndarray]) -> np.ndarray:
        """Change of the raw log-odds when only ``factor``'s input changes from ``old`` to
        ``new``: every term reading it (as factor or as modifier) is re-evaluated."""
        delta = np.zeros(len(new[factor]))
        for t in self.reads[factor]:
            delta = delta + (t.evaluate(new[t.factor], t.modifier_input(new))
                             - t.evaluate(old[t.factor], t.modifier_input(old)))
        return delta



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
    solver_: BoundedLogisticRegression | None = None  # the fitted solver (not saved)
    coef_: np.ndarray | None = None  # the design matrix's coefficients
    intercept_: float | None = None
    factor_means_: np.ndarray | None = None  # mean term value per factor on training data
    calibration_: tuple[float, float] = (1.0, 0.0)
    bands_: tuple[float, float] | None = None  # risk cut-offs: medium from, high from
    name: str = "additive"
    # how interactions are attributed; a model pickled before purification has no such
    # attribute and reads this class default, the rule it was fitted under
    attribution_: str = DRIVER
    # what the training campaigns held of each factor (riskmodel.coverage.fit_coverage: a
    # plain dict of numbers and lists); None for a model fitted before it was recorded
    coverage_: dict | None = None

    # The model's state as data, all that riskmodel/artifact.py saves and loads (no pickle):
    # arrays go to model.npz, JSON values to model.json (lists come back as tuples), and
    # records (dataclasses, each declaring its own state) to a list in model.json. A new
    # fitted table or setting is one more name here.
    STATE_ARRAYS = ("coef_", "factor_means_")
    STATE_JSON = ("name", "n_knots", "interaction_knots", "interactions", "alpha", "monotone",
                  "intercept_", "calibration_", "bands_", "attribution_", "coverage_")
    STATE_RECORDS = {"factors": Factor, "terms_": Term}

    @property
    def compiled_(self) -> CompiledTables:
        """The compiled tables, derived from the fitted terms (never pickled)."""
        if "_compiled" not in self.__dict__:
            self.__dict__["_compiled"] = CompiledTables(self)
        return self.__dict__["_compiled"]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_compiled", None)
        return state

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
            t.width = t.design(np.zeros(1), np.zeros(1)).shape[1]
            t.start = start
            start += t.width
        self.terms_ = terms

    def transform(self, batch: CampaignBatch) -> np.ndarray:
        """The design matrix (rows x model columns)."""
        inputs = self._inputs(batch)
        blocks = [t.design(inputs[t.factor], t.modifier_input(inputs)) for t in self.terms_]
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
        from scipy import sparse

        from riskmodel.estimators import BoundedLogisticRegression

        inputs = self._inputs(batch)
        self._setup(inputs)
        X = sparse.csr_array(self.transform(batch))  # a quarter dense: 3x faster products
        lo, hi = self._bounds()
        self.solver_ = BoundedLogisticRegression(alpha=self.alpha, lower=lo, upper=hi)
        self.solver_.fit(X, np.asarray(y, dtype=int))
        coef = self.solver_.coef_[0]
        self.coef_ = coef.copy()
        self.intercept_ = float(self.solver_.intercept_[0])
        for t in self.terms_:
            t.compile(coef)
        self._purify(inputs)
        self.coverage_ = fit_coverage(self.factors, inputs)
        self.__dict__.pop("_compiled", None)
        self.factor_means_ = self.compiled_.raw(inputs).mean(axis=0)
        self.calibration_ = (1.0, 0.0)
        return self

    def _purify(self, inputs: dict[str, np.ndarray]) -> None:
        """Purify every interaction under the training inputs (:func:`purify`), moving the
        modifier's part into its level table, and record the convention."""
        for t in self.terms_:
            if t.kind != "interaction":
                continue
            modifier = _modifier(t)
            to_modifier, _ = purify(t, inputs[t.factor], inputs[modifier])
            main = next(m for m in self.terms_ if m.factor == modifier and m.kind == "level")
            main.values = main.values + to_modifier
        self.attribution_ = SHAPLEY_PURIFIED

    def _not_fitted(self) -> NotFittedError:
        from sklearn.exceptions import NotFittedError

        return NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit with "
                              "campaigns and outcomes first")

    # ------------------------------------------------------------------ two evaluation paths

    def raw_decision_function(self, batch: CampaignBatch) -> np.ndarray:
        """Uncalibrated log-odds through the design matrix (the reference path): the same
        product the fitted solver's ``decision_function`` computes, from the saved
        coefficients."""
        if self.coef_ is None or self.intercept_ is None:
            raise self._not_fitted()
        return self.transform(batch) @ self.coef_ + self.intercept_

    def decision_function(self, batch: CampaignBatch) -> np.ndarray:
        a, b = self.calibration_
        return a * self.raw_decision_function(batch) + b

    def predict_proba(self, batch: CampaignBatch) -> np.ndarray:
        """Calibrated probabilities ``[P(success), P(failure)]`` through the design matrix."""
        from scipy.special import expit

        p = expit(self.decision_function(batch))
        return np.column_stack([1 - p, p])

    def set_calibration(self, slope: float, intercept: float) -> None:
        if not slope > 0:
            raise ValueError(f"calibration slope must be > 0 to keep the order; got {slope}")
        self.calibration_ = (float(slope), float(intercept))

    def shape(self, factor: str, grid: np.ndarray | None = None):
        """The factor's main-effect curve (numeric) or per-level values, centred, calibrated
        scale: for model cards."""
        means = self.factor_means_
        if means is None:
            raise self._not_fitted()
        a = self.calibration_[0]
        i = self.factor_names.index(factor)
        term = next(t for t in self.terms_ if t.factor == factor and t.kind != "interaction")
        if term.kind == "level":
            return a * (term.values - means[i])
        if grid is None:
            raise ValueError(f"{factor} is numeric: its curve needs a grid of values")
        curve = term.evaluate(grid)
        for t in self.terms_:  # the interactions' parts moved to this main effect
            if t.kind == "interaction" and t.factor == factor and len(t.driver_values):
                curve = curve + _read(t.driver_values[None, :], np.array([t.driver_unknown]),
                                      np.zeros(len(grid), dtype=np.intp),
                                      *_cell(t.knots, grid))
        return a * (curve - means[i])
