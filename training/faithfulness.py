"""Do the explanations name the true causes? Compare with the generator's truth.

Among generated campaigns with model risk ≥ 0.5 whose true leading family leads the runner-up
by at least 0.5 log-odds, the share whose reported top family (largest family total of the
model's contributions) equals the true one.
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
