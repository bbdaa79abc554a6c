import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from commands.main import main
from riskmodel import SCHEMA
from service import create_app


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
        proc = subprocess.run([sys.executable, "-m", "commands", "score", "--artifacts",
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
    # the workbench's quarter view, in one file: styles inline, no script, nothing fetched
    assert "<style>" in page and "<script" not in page and "<link" not in page
    assert not re.search(r"(src|href)=\"(?!#)", page)
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") \
        and "https://" not in page
    assert "The quarter's action list" in page and "Distribution of risk" in page
    assert "expected failures" in page and "Creative materials late by (days)" in page
    assert "material_delay_days:" not in page  # factors in words, not column names
    assert "bands: high" in res.output and "leading factor families:" in res.output


def test_report_needs_a_file_output(runner, trained, plans_csv, tmp_path):
    root, _ = trained
    res = _score(runner, root, "--in", str(plans_csv), "--out", "-", "--report",
                 str(tmp_path / "r.html"))
    assert res.exit_code == 2 and "give --out a file" in res.output


@pytest.mark.parametrize("when", ["starting", "writing"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupting_leaves_no_output(sig, when, trained, tmp_path):
    """Starting: the signal lands as the output is created, when the workers are being
    forked. Writing: once scored rows are in the temporary file."""
    from training.synthetic import generate

    root, _ = trained
    src = tmp_path / "big.csv"
    generate(300_000, seed=3)[list(SCHEMA.names)].to_csv(src, index=False)
    out = tmp_path / "scored.csv"
    for _ in range(3):  # a run that ended before the test could signal it is run again
        proc = subprocess.Popen([sys.executable, "-m", "commands", "score", "--artifacts",
                                 str(root), "--in", str(src), "--out", str(out)],
                                stderr=subprocess.PIPE, cwd=tmp_path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until it is writing
            if any(p.name.endswith(".part") and (when == "starting" or p.stat().st_size > 0)
                   for p in tmp_path.iterdir()):
                break
            time.sleep(0.05)
        else:
            proc.kill()
            pytest.fail("scoring never started writing")
        if proc.poll() is None:
            break
        # The whole run (about two seconds of writing) went by between two looks of this
        # loop: the test process was stalled (a loaded machine), the signal would reach
        # an exited process. Not what is tested: start again.
        proc.communicate()
        for p in tmp_path.iterdir():
            if p.name != "big.csv":
                p.unlink()
    else:
        pytest.fail("each run ended before it could be signalled")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, err.decode()[-2000:]
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


def _awkward_plans(plans_csv, path):
    """The plans with invalid rows spread through the file, a campaign id holding a quoted
    line break (invalid, and a trap for splitting the file) and one holding a comma and
    quotes (valid)."""
    df = pd.read_csv(plans_csv, dtype=str, keep_default_na=False)
    df.loc[3, "marketplace"] = "Atlantis"
    df.loc[150, "goal_alignment_score"] = "lots"
    df.loc[151, "campaign_id"] = "two\nlines"
    df.loc[152, "campaign_id"] = 'say "hi", twice'
    df.loc[399, "duration_days"] = "-4"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_any_number_of_workers_writes_the_same_output(kind, scorer, plans_csv, tmp_path):
    from batch import score_file

    src = _awkward_plans(plans_csv, tmp_path / "plans.csv")
    runs = {}
    for workers, chunk_rows in ((1, 100_000), (1, 37), (2, 37), (3, 11)):
        out = tmp_path / f"w{workers}-{chunk_rows}.{kind}"
        summary = score_file(src, out, scorer, workers=workers, chunk_rows=chunk_rows,
                             progress=False)
        rejects = summary.rejects_path.read_bytes()
        data = out.read_bytes() if kind == "csv" else pd.read_parquet(out)
        runs[workers, chunk_rows] = (data, rejects, summary.scored, summary.rejected_rows,
                                     summary.bands, summary.riskiest, summary.risk_by_type)
    first, *others = runs.values()
    assert first[2:4] == (396, 4)
    for other in others:
        if kind == "csv":
            assert other[0] == first[0]
        else:
            pd.testing.assert_frame_equal(other[0], first[0])
        assert other[1] == first[1]
        assert other[2:6] == first[2:6]
        assert other[6].keys() == first[6].keys()
        for label, (total, count) in first[6].items():
            assert other[6][label][1] == count
            assert other[6][label][0] == pytest.approx(total, rel=1e-12)
    scored = pd.read_csv(tmp_path / "w2-37.csv", dtype=str, keep_default_na=False) \
        if kind == "csv" else first[0]
    assert 'say "hi", twice' in set(scored["campaign_id"])
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_spreadsheet_byte_order_mark_is_not_part_of_the_first_name(runner, trained,
                                                                     plans_csv, tmp_path,
                                                                     workers):
    root, _ = trained
    src = tmp_path / "excel.csv"
    src.write_bytes(b"\xef\xbb\xbf" + plans_csv.read_bytes())
    out = tmp_path / "o.csv"
    res = _score(runner, root, "--in", str(src), "--out", str(out), "--workers", workers)
    assert res.exit_code == 0, res.output
    assert pd.read_csv(out).columns[0] == "campaign_id"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_record_with_missing_fields_fails_clearly(runner, trained, plans_csv, tmp_path,
                                                    workers):
    root, _ = trained
    lines = plans_csv.read_text().splitlines()
    lines[200] = lines[200].rsplit(",", 2)[0]  # two fields short
    src = tmp_path / "broken.csv"
    src.write_text("\n".join(lines) + "\n")
    res = _score(runner, root, "--in", str(src), "--out", str(tmp_path / "o.csv"),
                 "--workers", workers)
    assert res.exit_code == 1
    assert "Expected 23 columns, got 21" in res.output and "broken.csv" in res.output
    assert [p.name for p in tmp_path.iterdir()] == ["broken.csv"]


def test_parquet_input_scores_like_csv_input(scorer, plans_csv, tmp_path):
    """Parquet input scores like CSV, in one process and on a Dask cluster of 2."""
    from batch import score_file

    src = _awkward_plans(plans_csv, tmp_path / "plans.csv")
    pq_src = tmp_path / "plans.parquet"
    pd.read_csv(src, dtype=str, keep_default_na=False).to_parquet(pq_src)
    for workers in (1, 2):
        score_file(pq_src, tmp_path / f"from-parquet-{workers}.csv", scorer, workers=workers,
                   chunk_rows=50, progress=False)
    score_file(src, tmp_path / "from-csv.csv", scorer, workers=2, chunk_rows=50,
               progress=False)
    expected = (tmp_path / "from-csv.csv").read_bytes()
    assert (tmp_path / "from-parquet-1.csv").read_bytes() == expected
    assert (tmp_path / "from-parquet-2.csv").read_bytes() == expected


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_header_and_no_campaigns_is_an_error(runner, trained, plans_csv, tmp_path, workers):
    root, _ = trained
    src = tmp_path / "empty.csv"
    src.write_text(plans_csv.read_text().splitlines()[0] + "\n")
    res = _score(runner, root, "--in", str(src), "--out", str(tmp_path / "o.csv"),
                 "--workers", workers)
    assert res.exit_code == 1
    assert "has a header but no campaigns" in res.output
    assert [p.name for p in tmp_path.iterdir()] == ["empty.csv"]
