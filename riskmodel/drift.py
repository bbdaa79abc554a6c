"""Reference statistics and the tests that compare a window of campaigns with them.

Pure numpy (and one special function of scipy): typed columns and arrays in, plain data
out, so the service can monitor without scikit-learn. The reference of a model version is
computed once, at training, from its training data (:func:`reference_statistics`) and kept
as JSON beside the model; a window is counted in the same bins (:func:`bin_counts`) and
compared bin by bin:

- the **population stability index** (PSI) says how far a distribution moved (an effect
  size: < 0.1 stable, 0.1–0.25 moderate, ≥ 0.25 large, the usual reading);
- a **chi-square test of homogeneity** (reference counts against window counts) says
  whether the move is more than sampling noise for samples of these sizes: a window of 50
  campaigns can show a PSI of 0.2 by chance, a window of 50,000 cannot. Bins the window
  would expect fewer than 5 campaigns in are pooled first. Many factors are tested at once,
  so p-values are adjusted with Holm's step-down method (:func:`holm`).

Realized performance compares predicted risk with outcomes: observed against expected
failures with a normal interval (:func:`expected_vs_observed`), ROC AUC (Mann–Whitney, ties
counted half), Brier score, and expected calibration error over ten equal-width bins with
its reliability table (the model card's definition).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import chdtrc

from riskmodel.campaigns import CampaignBatch
from riskmodel.features import FACTORS, Factor, factor_values, level_codes

REFERENCE_FILE = "reference.json"
REFERENCE_FORMAT = 1
QUANTILE_BINS = 10  # numeric factors: deciles of the training data
RISK_BINS = 10  # predicted risk: deciles of the training data's risk
ECE_BINS = 10  # equal-width, as the model card's ECE
SEGMENTS = ("campaign_type", "marketplace")
UNKNOWN = "(unknown)"


# ---------------------------------------------------------------------------- binning


def numeric_bins(x: np.ndarray, bins: int = QUANTILE_BINS) -> list[float]:
    """Inner edges of quantile bins of the known values (ties collapse: an integer factor
    with few values gets fewer bins)."""
    known = x[~np.isnan(x)]
    if not len(known):
        return []
    edges = np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(e) for e in np.unique(edges)]


def bin_counts(spec: dict, x: np.ndarray) -> np.ndarray:
    """Counts of ``x`` in the bins of ``spec`` (a factor's reference entry), the unknown
    values last: ``len(spec["labels"])`` counts."""
    if spec["kind"] == "numeric":
        x = np.asarray(x, dtype=float)
        unknown = np.isnan(x)
        edges = np.asarray(spec["edges"], dtype=float)
        idx = np.searchsorted(edges, x[~unknown], side="right")
        counts = np.bincount(idx, minlength=len(edges) + 1)
        return np.append(counts, int(unknown.sum()))
    n_levels = len(spec["labels"]) - 1
    codes = level_codes(np.asarray(x), n_levels)
    return np.bincount(codes, minlength=n_levels + 1)[:n_levels + 1]


def _numeric_labels(edges: Sequence[float]) -> list[str]:
    if not edges:
        return ["all", UNKNOWN]
    bounds = [f"{e:.6g}" for e in edges]
    labels = [f"< {bounds[0]}"]
    labels += [f"{a} to < {b}" for a, b in zip(bounds, bounds[1:], strict=False)]
    return labels + [f"≥ {bounds[-1]}", UNKNOWN]


def factor_spec(factor: Factor, x: np.ndarray) -> dict:
    """A factor's bins from its training values: quantile bins for numbers, its levels for
    levels; the unknown values are the last bin either way."""
    if factor.kind == "numeric":
        edges = numeric_bins(np.asarray(x, dtype=float))
        return {"kind": "numeric", "edges": edges, "labels": _numeric_labels(edges)}
    return {"kind": "level", "labels": [*factor.levels, UNKNOWN]}


# ---------------------------------------------------------------------------- reference


def reference_statistics(batch: CampaignBatch, risk: np.ndarray, failed: np.ndarray,
                         factors: Sequence[Factor] = FACTORS) -> dict:
    """The reference a model version keeps of its training data, as JSON-ready data.

    Per factor its bins and counts, overall and per campaign type (the unknown share is
    the last bin); the predicted risk's deciles and counts; the failure rate overall, per
    campaign type and per marketplace.

    Examples
    --------
    >>> ref = reference_statistics(batch, scorer.compute(batch).risk, y)  # doctest: +SKIP
    >>> ref["factors"]["material_delay_days"]["labels"][-1]  # doctest: +SKIP
    '(unknown)'
    """
    risk = np.asarray(risk, dtype=float)
    failed = np.asarray(failed, dtype=float)
    types = np.asarray(batch["campaign_type"])
    type_names = batch.schema["campaign_type"].categories
    out_factors = {}
    for f in factors:
        x = factor_values(batch, f)
        spec = factor_spec(f, x)
        spec["counts"] = bin_counts(spec, x).tolist()
        spec["by_campaign_type"] = {
            name: bin_counts(spec, x[types == code]).tolist()
            for code, name in enumerate(type_names) if (types == code).any()}
        out_factors[f.name] = spec
    edges = [float(e) for e in np.unique(np.quantile(risk, np.linspace(0, 1, RISK_BINS + 1)
                                                     [1:-1]))] if len(risk) else []
    risk_spec: dict = {"kind": "numeric", "edges": edges, "labels": _numeric_labels(edges)}
    risk_spec["counts"] = bin_counts(risk_spec, risk).tolist()
    risk_spec["mean"] = float(risk.mean()) if len(risk) else None
    return {"format": REFERENCE_FORMAT, "n": int(batch.n), "factors": out_factors,
            "risk": risk_spec, "failure_rate": failure_rates(batch, failed)}


def failure_rates(batch: CampaignBatch, failed: np.ndarray) -> dict:
    """Campaigns and failures, overall and per segment value."""
    out: dict = {"overall": _rate(failed)}
    for seg in SEGMENTS:
        codes = np.asarray(batch[seg])
        out[seg] = {name: _rate(failed[codes == code])
                    for code, name in enumerate(batch.schema[seg].categories)
                    if (codes == code).any()}
    return out


def _rate(y: np.ndarray) -> dict:
    n = len(y)
    k = int(np.sum(y))
    return {"n": int(n), "failed": k, "rate": k / n if n else None}


# ---------------------------------------------------------------------------- drift


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins: the sum of
    (current share - reference share) x ln(current share / reference share), each share
    smoothed by half a count per bin so an empty bin stays finite."""
    ref = np.asarray(reference, dtype=float) + 0.5
    cur = np.asarray(current, dtype=float) + 0.5
    ref, cur = ref / ref.sum(), cur / cur.sum()
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def chi_square(reference: np.ndarray, current: np.ndarray,
               min_expected: float = 5.0) -> tuple[float, int, float]:
    """Chi-square test that two count vectors come from one distribution: statistic,
    degrees of freedom, p-value. Bins where the current sample would expect fewer than
    ``min_expected`` (from the pooled shares) are pooled into one first."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    n_ref, n_cur = ref.sum(), cur.sum()
    if n_ref == 0 or n_cur == 0:
        return 0.0, 0, 1.0
    pooled_share = (ref + cur) / (n_ref + n_cur)
    small = pooled_share * min(n_ref, n_cur) < min_expected
    if small.any():
        ref = np.append(ref[~small], ref[small].sum())
        cur = np.append(cur[~small], cur[small].sum())
    keep = (ref + cur) > 0
    ref, cur = ref[keep], cur[keep]
    if len(ref) < 2:
        return 0.0, 0, 1.0
    table = np.vstack([ref, cur])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    dof = len(ref) - 1
    return stat, dof, float(chdtrc(dof, stat))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error at most the level used)."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if not m:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return [float(v) for v in out]


# ---------------------------------------------------------------------------- performance


def roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Probability that a failed campaign has a higher risk than a successful one (ties
    count half); None without both outcomes."""
    y = np.asarray(y, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return None
    _, inverse, counts = np.unique(np.asarray(p, dtype=float), return_inverse=True,
                                   return_counts=True)
    ends = np.cumsum(counts)
    mid_rank = ends - (counts - 1) / 2.0  # average rank of each distinct value
    ranks = mid_rank[inverse]
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley and McNeil's (1982) standard error of an AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc)
           + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width risk bin: campaigns, mean predicted risk, observed failure rate."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    sum_p = np.bincount(idx, weights=p, minlength=bins)
    sum_y = np.bincount(idx, weights=y, minlength=bins)
    return [{"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "count": int(counts[b]),
             "mean_predicted": float(sum_p[b] / counts[b]) if counts[b] else None,
             "observed_rate": float(sum_y[b] / counts[b]) if counts[b] else None}
            for b in range(bins)]


def expected_calibration_error(table: list[dict]) -> float | None:
    n = sum(r["count"] for r in table)
    if not n:
        return None
    return float(sum(r["count"] / n * abs(r["observed_rate"] - r["mean_predicted"])
                     for r in table if r["count"]))


def expected_vs_observed(y: np.ndarray, p: np.ndarray, z: float = 1.96,
                         tolerance: float = 0.0) -> dict:
    """Observed failures against the sum of predicted risks, with the interval the
    observed count falls in with 95% probability if the risks are right (normal
    approximation: the variance of a sum of Bernoulli trials is the sum of p(1 - p)), the
    two-sided p-value of the difference, and ``p_beyond_tolerance``: the one-sided p-value
    that the observed count is further than ``tolerance`` x expected from the expected
    (a gap within the tolerance is not evidence, however many outcomes there are)."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    expected, observed = float(p.sum()), float(y.sum())
    sd = math.sqrt(float(np.sum(p * (1 - p))))
    p_value = 1.0 if sd == 0 else math.erfc(abs(observed - expected) / sd / math.sqrt(2))
    beyond = abs(observed - expected) - tolerance * expected
    p_beyond = 1.0 if sd == 0 else 0.5 * math.erfc(beyond / sd / math.sqrt(2))
    return {"n": int(len(y)), "expected": expected, "observed": int(observed),
            "interval": [max(0.0, expected - z * sd), expected + z * sd],
            "ratio": observed / expected if expected > 0 else None, "p_value": p_value,
            "tolerance": tolerance, "p_beyond_tolerance": p_beyond}


def performance(y: np.ndarray, p: np.ndarray, tolerance: float = 0.0) -> dict:
    """Realized performance of risks ``p`` on outcomes ``y`` (1 = failed); ``tolerance``
    as in :func:`expected_vs_observed`."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    table = reliability_table(y, p)
    auc = roc_auc(y, p)
    n_pos = int(y.sum())
    return {**expected_vs_observed(y, p, tolerance=tolerance), "roc_auc": auc,
            "roc_auc_se": None if auc is None else
            auc_standard_error(auc, n_pos, len(y) - n_pos),
            "brier": float(np.mean((p - y) ** 2)) if len(y) else None,
            "ece": expected_calibration_error(table), "reliability": table}
