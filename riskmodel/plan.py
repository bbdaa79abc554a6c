"""A plan, not just a list: the changes that bring a campaign into the low band, in order.

From the what-ifs the brand can act on (each actionable factor's :class:`Target` in
:data:`riskmodel.advice.ADVICE`), a greedy search builds the shortest sequence it can: at
each step it applies, on top of the steps already taken, the change that lowers the
campaign's log-odds the most, re-scoring the campaign jointly (every term that reads the
changed factor is re-evaluated on the changed campaign, so interactions follow, e.g. a
signed MOU changes what agreeing the goals is worth). It stops when the risk falls below the
low band's cut-off, or when no remaining change lowers it (then the plan brings the risk as
low as these changes can). A campaign already in the low band gets an empty plan.

Two shapes, the same rule: :func:`plan_batch` on arrays (the batch and many campaigns),
:func:`plan_one` on one campaign's plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from riskmodel._fast import constructor
from riskmodel.advice import Target
from riskmodel.model import CompiledTables


@dataclass(frozen=True)
class PlanStep:
    """One change of a plan and the campaign's risk once it (and the steps before it) is
    made."""

    factor: str
    target: str  # the change, in words (the what-if's target)
    mitigation: str  # how to make it
    failure_risk: float  # after this step
    change: float  # failure_risk minus the risk before this step


_new_step = constructor(PlanStep)


@dataclass(frozen=True)
class Action:
    """A change the brand can make: the factor's index among the model's factors, its name
    and where it goes."""

    index: int
    factor: str
    target: Target
    reads: tuple[str, ...] = ()  # the inputs of every term reading the factor


def actions_for(compiled: CompiledTables, targets: Sequence[tuple[int, str, Target]]
                ) -> tuple[Action, ...]:
    """The :class:`Action` of each (factor index, name, target), with the inputs its
    re-scoring reads."""
    out = []
    for j, name, target in targets:
        reads = {name}
        for t in compiled.reads[name]:
            reads.add(t.factor)
            if t.modifier is not None:
                reads.add(t.modifier)
        out.append(Action(j, name, target, tuple(sorted(reads))))
    return tuple(out)


def coupled(compiled: CompiledTables, actions: Sequence[Action]) -> list[list[int]]:
    """For each action, the other actions whose effect depends on it (a term reads both
    factors: an interaction): their gains are re-evaluated after it is taken."""
    out = []
    for a in actions:
        terms = compiled.reads[a.factor]
        out.append([k for k, b in enumerate(actions) if b is not a
                    and any(t in terms for t in compiled.reads[b.factor])])
    return out


def plan_batch(compiled: CompiledTables, slope: float, actions: Sequence[Action],
               links: list[list[int]], inputs: dict[str, np.ndarray],
               log_odds: np.ndarray, low_below: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plans for many campaigns.

    Returns ``steps`` (rows x actions, the action indices in order, -1 after the last),
    ``risk`` (rows x actions, the risk after each step, NaN after the last) and ``final``
    (rows, the log-odds after the whole plan). ``low_below`` is the log-odds of the low
    band's cut-off; ``slope`` the calibration slope.
    """
    n, k = len(log_odds), len(actions)
    steps = np.full((n, k), -1, dtype=np.int8 if k < 127 else np.int16)
    risk = np.full((n, k), np.nan)
    final = log_odds.copy()
    rows = np.flatnonzero(log_odds >= low_below)
    if len(rows) == 0 or k == 0:
        return steps, risk, final
    needed = {name for a in actions for name in a.reads}
    cur = {name: inputs[name][rows] for name in needed}
    lo = log_odds[rows].copy()
    gain = np.empty((len(rows), k))
    for j, a in enumerate(actions):
        gain[:, j] = _gain(compiled, slope, a, cur, None)
    active = np.ones(len(rows), dtype=bool)
    for step in range(k):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        choice = np.argmin(gain[idx], axis=1)
        best = gain[idx, choice]
        take = best < 0
        active[idx[~take]] = False
        idx, choice, best = idx[take], choice[take], best[take]
        if len(idx) == 0:
            break
        lo[idx] += best
        steps[rows[idx], step] = choice
        risk[rows[idx], step] = _sigmoid(lo[idx])
        gain[idx, choice] = np.inf
        for j in np.unique(choice).tolist():
            who = idx[choice == j]
            a = actions[j]
            cur[a.factor][who] = a.target(cur[a.factor][who])
            for other in links[j]:
                open_ = who[np.isfinite(gain[who, other])]
                if len(open_):
                    gain[open_, other] = _gain(compiled, slope, actions[other], cur, open_)
        active[idx[lo[idx] < low_below]] = False
    final[rows] = lo
    return steps, risk, final


def _gain(compiled: CompiledTables, slope: float, a: Action, cur: dict[str, np.ndarray],
          rows: np.ndarray | None) -> np.ndarray:
    """The calibrated log-odds change of taking action ``a`` on ``rows`` of the current
    campaigns (None: all); +inf where it changes nothing."""
    old = {name: cur[name] if rows is None else cur[name][rows] for name in a.reads}
    x = old[a.factor]
    new_x = a.target(x)
    same = (new_x == x) | (np.isnan(new_x) & np.isnan(x)) if x.dtype.kind == "f" else (
        new_x == x)
    new = dict(old)
    new[a.factor] = new_x
    delta = slope * compiled.term_delta(a.factor, old, new)
    return np.where(same, np.inf, delta)


def plan_one(compiled: CompiledTables, slope: float, actions: Sequence[Action],
             links: list[list[int]], x: dict[str, float], log_odds: float,
             low_below: float) -> tuple[list[tuple[int, float]], float]:
    """:func:`plan_batch` for one campaign given as plain numbers (NaN = unknown): the
    steps as (action index, log-odds after) and the final log-odds."""
    if log_odds < low_below or not actions:
        return [], log_odds
    cur = dict(x)
    gain = [_gain_one(compiled, slope, a, cur) for a in actions]
    out = []
    lo = log_odds
    for _ in actions:
        j = min(range(len(gain)), key=gain.__getitem__)
        best = gain[j]
        if not best < 0:
            break
        lo += best
        out.append((j, lo))
        gain[j] = math.inf
        a = actions[j]
        cur[a.factor] = a.target.one(cur[a.factor])
        for other in links[j]:
            if gain[other] != math.inf:
                gain[other] = _gain_one(compiled, slope, actions[other], cur)
        if lo < low_below:
            break
    return out, lo


def _gain_one(compiled: CompiledTables, slope: float, a: Action, cur: dict) -> float:
    v = cur[a.factor]
    new = a.target.one(v)
    if new == v or (new != new and v != v):
        return math.inf
    return slope * compiled.delta_one(cur, a.factor, new)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def make_steps(about: Sequence, actions: Sequence[Action], chosen: Sequence[int],
               risks: Sequence[float], risk: float) -> tuple[PlanStep, ...]:
    """The :class:`PlanStep` of each chosen action (``about`` the scorer's factor
    descriptions), each with its risk after and the change from the step before."""
    out = []
    before = risk
    for j, r in zip(chosen, risks, strict=True):
        info = about[actions[j].index]
        out.append(_new_step(info.name, info.target_label or "", info.mitigation or "", r,
                             r - before))
        before = r
    return tuple(out)
