"""Metrics of a probabilistic classifier, and the Bayes limit when the truth is known."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

ECE_BINS = 10


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Rows per equal-width probability bin: count, mean predicted, observed failure rate."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        m = idx == b
        n = int(m.sum())
        rows.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "count": n,
                     "mean_predicted": float(p[m].mean()) if n else None,
                     "observed_rate": float(y[m].mean()) if n else None})
    return rows


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Count-weighted mean |observed rate - mean predicted| over equal-width bins."""
    table = calibration_table(y, p, bins)
    n = len(y)
    return float(sum(r["count"] / n * abs(r["observed_rate"] - r["mean_predicted"])
                     for r in table if r["count"]))


def evaluate(y: np.ndarray, p: np.ndarray, truth: np.ndarray | None = None) -> dict:
    """Test-split metrics; with ``truth`` (true probabilities) also the Bayes limit and gaps.

    Examples
    --------
    >>> m = evaluate(np.array([0, 1, 0, 1]), np.array([0.1, 0.8, 0.3, 0.6]))
    >>> m["roc_auc"]
    1.0
    """
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15)
    out: dict[str, Any] = {
        "n": int(len(y)),
        "failure_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "calibration_table": calibration_table(y, p),
    }
    if truth is not None:
        t = np.clip(np.asarray(truth, dtype=float), 1e-15, 1 - 1e-15)
        out["bayes_roc_auc"] = float(roc_auc_score(y, t))
        out["bayes_brier"] = float(brier_score_loss(y, t))
        out["bayes_log_loss"] = float(log_loss(y, t, labels=[0, 1]))
        out["auc_gap_to_bayes"] = out["bayes_roc_auc"] - out["roc_auc"]
        out["brier_gap_to_bayes"] = out["brier"] - out["bayes_brier"]
    return out
