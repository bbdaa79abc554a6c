import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from riskmodel import SCHEMA
from riskmodel.cli import main
from service import create_app


@pytest.fixture(scope="module")
def plans_csv(tmp_path_factory, history_df):
    path = tmp_path_factory.mktemp("plans") / "plans.csv"
    history_df[list(SCHEMA.names)].head(400).to_csv(path, index=False)
    return path


def _score(runner, root, *args):
    return runner.invoke(main, ["score", "--artifacts", str(root), *args])


def test_batch_equals_the_service_and_the_python_api(runner, trained, plans_csv, tmp_path,
                                                     scorer, plans):
    root, _ = trained
    out = tmp_path / "scored.csv"
    res = _score(runner, root, "--in", str(plans_csv), "--out", str(out), "--top-k", "3")
    assert res.exit_code == 0, res.output
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(scored.columns[:len(SCHEMA.names)]) == list(SCHEMA.names)
    client = create_app({"artifacts": str(root), "reload_interval": 3600.0}).test_client()
    for i in range(0, len(plans), 23):
        row = scored.iloc[i]
        [api] = scorer.score(plans[i])
        [svc] = client.post("/v1/score", json=plans[i]).get_json()["results"]
        assert row["campaign_id"] == api.campaign_id == svc["campaign_id"]
        assert float(row["failure_risk"]) == pytest.approx(api.failure_risk, abs=1e-12)
        assert svc["failure_risk"] == pytest.approx(api.failure_risk, abs=1e-12)
        assert row["risk_band"] == api.risk_band == svc["risk_band"]
        for p, (f, g) in enumerate(zip(api.top_factors, svc["top_factors"], strict=True), 1):
            assert row[f"factor_{p}"] == f.factor == g["factor"]
            assert row[f"factor_{p}_family"] == f.family
            assert float(row[f"factor_{p}_log_odds"]) == pytest.approx(f.log_odds, abs=1e-12)
            assert row[f"factor_{p}_reason"] == (f.reason or "") == (g["reason"] or "")
            assert row[f"factor_{p}_mitigation"] == (f.mitigation or "")
            fixed = row[f"factor_{p}_risk_if_fixed"]
            if f.what_if is None:
                assert fixed == ""
            else:
                assert float(fixed) == pytest.approx(f.what_if.failure_risk, abs=1e-12)
        for fam, total in api.family_totals.items():
            assert float(row[f"family_{fam}"]) == pytest.approx(total, abs=1e-9)
        assert row["warnings"] == ";".join(w.code for w in api.warnings)
        assert row["model_version"] == api.model_version


def test_mixed_valid_and_invalid_rows(runner, trained, plans_csv, tmp_path):
    root, _ = trained
    df = pd.read_csv(plans_csv, dtype=str, keep_default_na=False)
    df.loc[4, "marketplace"] = "Atlantis"
    df.loc[9, "goal_alignment_score"] = "lots"
    df.loc[9, "duration_days"] = "0"
    df.loc[20, "material_delay_days"] = ""
    src = tmp_path / "mixed.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "scored.parquet"
    res = _score(runner, root, "--in", str(src), "--out", str(out))
    assert res.exit_code == 3, res.output
    assert "scored 397 of 400" in res.output and "rejected 3 (4 problems)" in res.output
    scored = pd.read_parquet(out)
    assert len(scored) == 397
    rejects = pd.read_csv(tmp_path / "scored.rejects.csv", dtype=str, keep_default_na=False)
    assert sorted(map(int, rejects["row"])) == [5, 10, 10, 21]
    assert set(rejects["campaign_id"]) == set(df.loc[[4, 9, 20], "campaign_id"])
    assert set(scored["campaign_id"]) | set(rejects["campaign_id"]) == set(df["campaign_id"])
    assert "marketplace is not an allowed value (row 5)" in " ".join(rejects["reason"])


def test_strict_fails_before_writing(runner, trained, plans_csv, tmp_path):
    root, _ = trained
    df = pd.read_csv(plans_csv, dtype=str, keep_default_na=False)
    df.loc[350, "category"] = "weapons"
    src = tmp_path / "bad.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "out.csv"
    res = _score(runner, root, "--in", str(src), "--out", str(out), "--strict")
    assert res.exit_code == 1
    assert "category is not an allowed value (row 351)" in res.output
    assert not out.exists() and not (tmp_path / "out.rejects.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.csv"]


def test_missing_required_column_is_an_error(runner, trained, plans_csv, tmp_path):
    root, _ = trained
    src = tmp_path / "cols.csv"
    pd.read_csv(plans_csv).drop(columns=["material_delay_days"]).to_csv(src, index=False)
    res = _score(runner, root, "--in", str(src), "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 1
    assert "material_delay_days is a required column" in res.output
    assert not (tmp_path / "o.csv").exists()


def test_standard_input_and_output(trained, plans_csv, tmp_path):
    root, _ = trained
    with open(plans_csv, "rb") as stdin:
        proc = subprocess.run([sys.executable, "-m", "riskmodel.cli", "score", "--artifacts",
                               str(root), "--in", "-", "--out", "-"],
                              stdin=stdin, capture_output=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 401 and "failure_risk" in lines[0]
    assert b"scored 400 of 400" in proc.stderr


def test_report_is_a_self_contained_page(runner, trained, plans_csv, tmp_path):
    root, _ = trained
    report = tmp_path / "r.html"
    res = _score(runner, root, "--in", str(plans_csv), "--out", str(tmp_path / "o.csv"),
                 "--report", str(report))
    assert res.exit_code == 0
    page = report.read_text()
    assert page.count("data:image/png;base64,") == 2 and "Riskiest campaigns" in page
    assert "http" not in page.replace("data:image", "")
    assert "bands: high" in res.output and "leading factor families:" in res.output


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupting_leaves_no_output(sig, trained, tmp_path):
    from training.synthetic import generate

    root, _ = trained
    src = tmp_path / "big.csv"
    generate(300_000, seed=3)[list(SCHEMA.names)].to_csv(src, index=False)
    out = tmp_path / "scored.csv"
    proc = subprocess.Popen([sys.executable, "-m", "riskmodel.cli", "score", "--artifacts",
                             str(root), "--in", str(src), "--out", str(out)],
                            stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until it is writing
        if any(p.name.endswith(".part") for p in tmp_path.iterdir()):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("scoring never started writing")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert b"interrupted" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]
    assert not os.path.exists(out)


def test_batch_can_log_its_predictions(runner, trained, plans_csv, tmp_path, monkeypatch):
    from riskmodel.store import Store

    root, _ = trained
    monkeypatch.setenv("RISKMODEL_DATA_DIR", str(tmp_path / "var"))
    res = _score(runner, root, "--in", str(plans_csv), "--out", str(tmp_path / "o.csv"),
                 "--log-predictions")
    assert res.exit_code == 0, res.output
    store = Store(f"sqlite:///{tmp_path / 'var' / 'riskmodel.sqlite3'}")
    try:
        first = pd.read_csv(plans_csv, dtype=str).iloc[0]
        [logged] = store.predictions_for(first["campaign_id"])
        assert logged["source"] == "batch"
        assert logged["inputs"]["goal_alignment_score"] == first["goal_alignment_score"]
        scored = pd.read_csv(tmp_path / "o.csv").iloc[0]
        assert logged["failure_risk"] == pytest.approx(scored["failure_risk"], abs=1e-12)
    finally:
        store.dispose()
