"""Faithfulness of the explanations at factor level (training/faithfulness.py)."""

import numpy as np

from training.faithfulness import factor_faithfulness
from training.synthetic import generate


def test_reported_factors_name_and_size_the_true_ones(scorer):
    """The session's small model (4,000 training rows) on 4,000 new campaigns. The 50,000-row
    default model's figures (benchmarks/bench_faithfulness.py) are in docs/model.md."""
    df = generate(4000, seed=5, with_truth=True)
    result = factor_faithfulness(scorer, df=df)
    assert result.eligible >= 100
    assert result.rate >= 0.95, result.confusion
    assert result.mae_top3 < 0.4
    assert sum(result.confusion.values()) == result.eligible


def test_clear_cases_follow_the_truth_columns(scorer):
    df = generate(2000, seed=6, with_truth=True)
    strict = factor_faithfulness(scorer, df=df, min_lead=2.0)
    loose = factor_faithfulness(scorer, df=df, min_lead=0.0)
    assert strict.eligible < loose.eligible
    assert loose.eligible == int((df["true_failure_probability"] >= 0.5).sum())
    assert np.isfinite(loose.mae_top3)
