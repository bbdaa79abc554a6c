import json

import numpy as np
import pandas as pd
import pytest

from commands.main import main
from riskmodel.registry import Registry
from training import train as train_module
from training.synthetic import generate
from training.train import train


@pytest.mark.slow
def test_50k_generated_rows_reach_the_bayes_limit_and_are_calibrated(tmp_path, runner):
    data = tmp_path / "h.parquet"
    generate(50_000, seed=2024, with_truth=True).to_parquet(data)
    out = tmp_path / "art"
    res = runner.invoke(main, ["train", "--data", str(data), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Bayes limit" in res.output and "ECE" in res.output
    version = (out / "CURRENT").read_text().strip()
    manifest = json.loads((out / "models" / version / "manifest.json").read_text())
    m = manifest["metrics"]
    assert m["bayes_roc_auc"] - m["roc_auc"] <= 0.01
    assert m["ece"] <= 0.02
    card = (out / "models" / version / "model_card.md").read_text()
    assert f"| roc_auc | {m['roc_auc']:.4f} |" in card
    assert f"| ece | {m['ece']:.4f} |" in card
    assert f"ROC AUC {m['roc_auc']:.4f}" in res.output


def _hand_built_history(n=6000, seed=99):
    """A history the generator did not make: other marginals, another true process."""
    rng = np.random.default_rng(seed)
    delay = rng.uniform(-10, 40, n)
    goal = rng.uniform(0, 1, n)
    ratio = rng.uniform(0.05, 0.8, n)
    resource = rng.uniform(5000, 90000, n)
    attribution = rng.random(n) < 0.5
    # a different truth: lateness is linear and strong, budget hardly matters
    logit = -1.0 + 0.08 * delay - 1.5 * goal - 0.6 * attribution + 0.3 * (ratio < 0.15)
    failed = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({
        "campaign_id": [f"H{i}" for i in range(n)],
        "marketplace": rng.choice(["US", "DE", "JP"], n),
        "campaign_type": rng.choice(["lightning_deal", "search_top_banner"], n),
        "goal_alignment_score": goal.round(2),
        "material_delay_days": delay.round(1),
        "resource_value_usd": resource.round(2),
        "committed_ad_budget_usd": (ratio * resource).round(2),
        "attribution_enabled": np.where(attribution, "yes", "no"),
        "failed": np.where(failed, "true", "false"),
        "note": "hand-built",
        "true_failure_probability": 1 / (1 + np.exp(-logit)),
    })


def test_a_hand_built_history_with_another_process_trains_and_reports(tmp_path, runner):
    path = tmp_path / "hand.csv"
    _hand_built_history().to_csv(path, index=False)
    res = runner.invoke(main, ["train", "--data", str(path), "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert "ignored columns outside the contract: note" in res.output
    assert "stratified at random" in res.output
    version = (tmp_path / "a" / "CURRENT").read_text().strip()
    m = json.loads((tmp_path / "a" / "models" / version / "manifest.json").read_text())["metrics"]
    for key in ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "bayes_roc_auc"):
        assert key in m
    assert m["bayes_roc_auc"] - m["roc_auc"] < 0.02
    assert m["ece"] < 0.04


def _csv(tmp_path, df, name="bad.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def small(history_df):
    return history_df.head(600).copy()


def _break(kind, df):
    df = df.copy()
    if kind == "missing-column":
        return df.drop(columns=["goal_alignment_score"]), "goal_alignment_score is a required"
    if kind == "unknown-category":
        df["marketplace"] = df["marketplace"].astype(object)
        df.loc[df.index[16], "marketplace"] = "Atlantis"
        return df, "marketplace is not an allowed value (row 17)"
    if kind == "out-of-range":
        df.loc[df.index[4], "committed_ad_budget_usd"] = -500
        return df, "committed_ad_budget_usd is out of range (row 5)"
    if kind == "non-numeric":
        df["duration_days"] = df["duration_days"].astype(object)
        df.loc[df.index[9], "duration_days"] = "ten"
        return df, "duration_days is not a number (row 10)"
    if kind == "one-class":
        df["failed"] = False
        return df, "every campaign succeeded"
    if kind == "too-few-rows":
        return df.head(50), "50 valid campaigns; at least 200"
    raise AssertionError(kind)


KINDS = ["missing-column", "unknown-category", "out-of-range", "non-numeric", "one-class",
         "too-few-rows"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_history_gives_one_clear_message_and_nonzero_exit(kind, small, tmp_path, runner):
    df, expected = _break(kind, small)
    out = tmp_path / "art"
    res = runner.invoke(main, ["train", "--data", str(_csv(tmp_path, df)), "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert expected in res.output
    assert "Traceback" not in res.output and res.exception is None or \
        isinstance(res.exception, SystemExit)
    assert not (out / "models").exists() or Registry(out).versions() == []


@pytest.mark.parametrize("content", ["", "campaign_id,failed\n"], ids=["empty", "header-only"])
def test_empty_file_is_refused(content, tmp_path, runner):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    res = runner.invoke(main, ["train", "--data", str(path), "--out", str(tmp_path / "a")])
    assert res.exit_code == 1
    assert "empty" in res.output or "no campaigns" in res.output


def test_drop_invalid_trains_on_valid_rows_and_reports_why(small, tmp_path, runner):
    df, _ = _break("unknown-category", small)
    df.loc[df.index[3], "goal_alignment_score"] = 7
    res = runner.invoke(main, ["train", "--data", str(_csv(tmp_path, df)), "--out",
                               str(tmp_path / "a"), "--drop-invalid"])
    assert res.exit_code == 0, res.output
    assert "dropped 2 invalid rows" in res.output
    assert "marketplace is not an allowed value" in res.output
    assert "goal_alignment_score is out of range" in res.output
    version = (tmp_path / "a" / "CURRENT").read_text().strip()
    m = json.loads((tmp_path / "a" / "models" / version / "manifest.json").read_text())
    assert m["training_data"]["rows_used"] == 598 and m["training_data"]["rows_dropped"] == 2


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError], ids=["interrupt", "crash"])
def test_interrupted_or_failed_training_leaves_nothing(exc, trained, history_csv, monkeypatch,
                                                      tmp_path):
    root = tmp_path / "art"
    first = train(history_csv, out=root, progress=False)
    before = (root / "CURRENT").read_text()

    def boom(directory, *a, **k):
        (directory / "half-written.png").write_bytes(b"partial")
        raise exc("stopped while writing the model card")

    monkeypatch.setattr("training.model_card.write_model_card", boom)
    with pytest.raises(exc):
        train(history_csv, out=root, progress=False, promote=True)
    assert Registry(root).versions() == [first.version]
    assert [p.name for p in (root / "models").iterdir()] == [first.version]
    assert (root / "CURRENT").read_text() == before


def test_train_does_not_replace_current_unless_asked(history_csv, tmp_path):
    root = tmp_path / "art"
    first = train(history_csv, out=root, progress=False)
    second = train(history_csv, out=root, progress=False)
    assert Registry(root).current_version() == first.version
    assert second.version in Registry(root).versions()
    third = train(history_csv, out=root, progress=False, promote=True)
    assert Registry(root).current_version() == third.version


def test_split_is_by_date_when_present(trained):
    _, result = trained
    assert result.split.startswith("by completed_on")


def test_candidates_include_at_least_two_families(trained):
    _, result = trained
    assert len(result.validation_log_loss) >= 2
    assert result.chosen == min(result.validation_log_loss, key=result.validation_log_loss.get)
    assert set(train_module.CANDIDATES) == set(result.validation_log_loss)


def test_the_band_rule_in_words_says_what_training_does():
    """The manifest's ``bands.rule`` (riskmodel.BAND_RULE, translated on the model page)
    names the quantile training cuts *high* at, and the medium cut-off's source."""
    import numpy as np

    from riskmodel import BAND_RULE
    from training.train import HIGH_QUANTILE, choose_bands

    assert f"high from the {round(HIGH_QUANTILE * 100)}th percentile of validation risk" \
        in BAND_RULE and "medium from the validation failure rate" in BAND_RULE
    p = np.linspace(0.0, 0.99, 100)
    y = (np.arange(100) < 30).astype(float)
    assert choose_bands(p, y) == (0.3, round(float(np.quantile(p, HIGH_QUANTILE)), 2))
