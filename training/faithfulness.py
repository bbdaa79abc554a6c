"""Do the explanations name the true causes? Compare with the generator's truth.

By family: among generated campaigns with model risk ≥ 0.5 whose true leading family leads
the runner-up by at least 0.5 log-odds, the share whose reported top family (largest family
total of the model's contributions) equals the true one.

By factor (:func:`factor_faithfulness`): among campaigns with true risk ≥ 0.5 whose true
first factor (largest absolute interventional Shapley value of the true log-odds,
``true_factor_<name>``) leads the second by at least 0.5 log-odds, the share whose reported
first factor (``top_factors[0]``, largest absolute contribution) is the true one, and the
mean absolute error of the reported top three contributions against the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskmodel import FAMILIES, Scorer, validate_campaigns
from training.synthetic import generate


@dataclass(frozen=True)
class Faithfulness:
    eligible: int
    agree: int
    confusion: dict  # (true family, reported family) -> count

    @property
    def rate(self) -> float:
        return self.agree / self.eligible if self.eligible else float("nan")


def faithfulness(scorer: Scorer, rows: int = 50_000, seed: int = 777, min_risk: float = 0.5,
                 min_lead: float = 0.5) -> Faithfulness:
    """Score ``rows`` generated campaigns and compare their top family with the truth."""
    df = generate(rows, seed=seed, with_truth=True)
    v = validate_campaigns(df)
    e = scorer.explain_batch(v.batch, top_k=0)
    truth = df[[f"true_{f}" for f in FAMILIES]].to_numpy()
    top2 = np.sort(truth, axis=1)[:, -2:]
    eligible = (e.risk >= min_risk) & (top2[:, 1] - top2[:, 0] >= min_lead)
    true_top = truth.argmax(axis=1)
    model_top = e.family_totals.argmax(axis=1)  # columns in FAMILIES order
    confusion: dict = {}
    for t, m in zip(true_top[eligible], model_top[eligible], strict=True):
        key = (FAMILIES[t], FAMILIES[m])
        confusion[key] = confusion.get(key, 0) + 1
    return Faithfulness(int(eligible.sum()), int((true_top == model_top)[eligible].sum()),
                        confusion)


@dataclass(frozen=True)
class FactorFaithfulness:
    eligible: int
    agree: int
    mae_top3: float  # mean |reported - true| over the reported top three, log-odds
    confusion: dict  # (true factor, reported factor) -> count

    @property
    def rate(self) -> float:
        return self.agree / self.eligible if self.eligible else float("nan")


def factor_faithfulness(scorer: Scorer, rows: int = 50_000, seed: int = 777,
                        min_risk: float = 0.5, min_lead: float = 0.5,
                        df=None) -> FactorFaithfulness:
    """Score ``rows`` generated campaigns (or ``df``, generated with truth) and compare
    their factors with the true ones."""
    if df is None:
        df = generate(rows, seed=seed, with_truth=True)
    names = scorer.factor_names
    v = validate_campaigns(df)
    e = scorer.explain_batch(v.batch, top_k=3)
    truth = df[[f"true_factor_{name}" for name in names]].to_numpy()
    size = np.abs(truth)
    order = np.argsort(-size, axis=1, kind="stable")
    rows_ = np.arange(len(df))
    first, second = size[rows_, order[:, 0]], size[rows_, order[:, 1]]
    eligible = ((df["true_failure_probability"].to_numpy() >= min_risk)
                & (first - second >= min_lead))
    true_top, model_top = order[:, 0], e.top[:, 0]
    reported = np.take_along_axis(e.contributions, e.top, axis=1)
    true_at = np.take_along_axis(truth, e.top, axis=1)
    err = np.abs(reported - true_at)[eligible]
    confusion: dict = {}
    for t, m in zip(true_top[eligible], model_top[eligible], strict=True):
        key = (names[t], names[m])
        confusion[key] = confusion.get(key, 0) + 1
    return FactorFaithfulness(int(eligible.sum()), int((true_top == model_top)[eligible].sum()),
                              float(err.mean()) if err.size else float("nan"), confusion)
