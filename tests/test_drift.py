"""Reference statistics and the drift and performance statistics (riskmodel/drift.py),
checked against scipy and scikit-learn."""

import json

import numpy as np
import pytest
from scipy.stats import chi2_contingency
from sklearn.metrics import brier_score_loss, roc_auc_score

from riskmodel import FACTORS, REFERENCE_FILE, Registry, validate_campaigns
from riskmodel.drift import (
    UNKNOWN,
    bin_counts,
    chi_square,
    expected_vs_observed,
    holm,
    performance,
    psi,
    reference_statistics,
)
from training.evaluation import calibration_table, expected_calibration_error


def test_a_trained_version_keeps_its_reference_beside_the_model(trained):
    """reference.json in the version directory, listed with its checksum in the manifest;
    per factor bins and counts that add up to the training rows, the unknown bin last."""
    root, result = trained
    registry = Registry(root)
    manifest = registry.verify(result.version)
    assert REFERENCE_FILE in manifest["files"]
    ref = json.loads((registry.models / result.version / REFERENCE_FILE).read_text())
    assert set(ref["factors"]) == {f.name for f in FACTORS}
    n = result.n_rows
    typed = sum(r["n"] for r in ref["failure_rate"]["campaign_type"].values())
    assert n * 0.9 < typed < n  # campaigns of an unknown type are in no segment
    for name, spec in ref["factors"].items():
        assert sum(spec["counts"]) == n, name
        assert spec["labels"][-1] == UNKNOWN and len(spec["labels"]) == len(spec["counts"])
        assert sum(sum(c) for c in spec["by_campaign_type"].values()) == typed
    delay = ref["factors"]["material_delay_days"]
    assert len(delay["edges"]) >= 8  # deciles of a continuous factor
    assert ref["factors"]["category"]["labels"][:2] == ["home", "consumer_electronics"]
    assert sum(ref["risk"]["counts"]) == n
    rates = ref["failure_rate"]
    assert rates["overall"]["n"] == n and 0.2 < rates["overall"]["rate"] < 0.4
    assert 0.9 * rates["overall"]["failed"] < \
        sum(r["failed"] for r in rates["marketplace"].values()) <= rates["overall"]["failed"]


def test_bins_count_unknown_values_last(history_df):
    v = validate_campaigns(history_df.head(500))
    batch = v.batch
    ref = reference_statistics(batch, np.full(batch.n, 0.3), np.zeros(batch.n))
    spec = ref["factors"]["annual_sales_usd"]
    x = batch["annual_sales_usd"]
    assert bin_counts(spec, x)[-1] == int(np.isnan(x).sum()) > 0
    mou = ref["factors"]["mou_signed"]
    assert mou["labels"] == ["false", "true", UNKNOWN]
    assert mou["counts"][1] == int((batch["mou_signed"] == 1).sum())


def test_chi_square_matches_scipy_and_psi_is_zero_for_equal_shares():
    ref, cur = np.array([400, 300, 200, 100]), np.array([50, 20, 20, 10])
    stat, dof, p = chi_square(ref, cur)
    expected = chi2_contingency(np.vstack([ref, cur]), correction=False)
    assert stat == pytest.approx(expected.statistic) and dof == expected.dof
    assert p == pytest.approx(expected.pvalue)
    assert psi(ref, ref // 10) == pytest.approx(0.0, abs=1e-3)
    assert psi(ref, cur) > psi(ref, ref // 10)


def test_a_small_window_does_not_cry_wolf():
    """The same shift in 30 campaigns and in 3,000: the PSI alike, the test tells them
    apart (sparse bins are pooled, not left to inflate the statistic)."""
    ref = np.array([1000] * 10)
    small, large = np.array([6, 1, 3, 2, 3, 3, 3, 3, 3, 3]), np.array([6, 1, 3, 2, 3, 3, 3, 3,
                                                                       3, 3]) * 100
    assert chi_square(ref, small)[2] > 0.05
    assert chi_square(ref, large)[2] < 1e-6


def test_holm_adjusts_step_down():
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([]) == []


def test_performance_matches_scikit_learn_and_the_model_card():
    rng = np.random.default_rng(3)
    p = rng.random(2000)
    y = (rng.random(2000) < p).astype(int)
    p_tied = np.round(p, 1)  # ties count half, as scikit-learn counts them
    perf = performance(y, p_tied)
    assert perf["roc_auc"] == pytest.approx(roc_auc_score(y, p_tied))
    assert perf["brier"] == pytest.approx(brier_score_loss(y, p_tied))
    assert perf["ece"] == pytest.approx(expected_calibration_error(y, p_tied))
    assert [r["count"] for r in perf["reliability"]] == \
        [r["count"] for r in calibration_table(y, p_tied)]


def test_expected_vs_observed_interval_covers_the_truth_about_95_percent():
    rng = np.random.default_rng(4)
    p = rng.random(500) * 0.6
    inside = 0
    for _ in range(400):
        y = rng.random(500) < p
        e = expected_vs_observed(y, p)
        inside += e["interval"][0] <= e["observed"] <= e["interval"][1]
    assert 0.92 <= inside / 400 <= 0.98
