"""``riskmodel score`` (commands/score.py): what it refuses before writing anything."""

import os

import pandas as pd
import pytest

from commands.main import main


def _score(runner, root, *args):
    return runner.invoke(main, ["score", "--artifacts", str(root), *args])


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def plan(plans_csv, tmp_path):
    src = tmp_path / "plans.csv"
    src.write_bytes(plans_csv.read_bytes())
    return src


@pytest.mark.parametrize("clash", ["rejects-is-out", "report-is-in", "report-is-out",
                                   "report-is-rejects", "rejects-is-in",
                                   "out-symlink-to-in", "rejects-hard-link-to-out",
                                   "report-other-spelling-of-out"])
def test_clashing_files_are_refused_before_anything_is_written(runner, trained, plan,
                                                               tmp_path, clash):
    root, _ = trained
    out = tmp_path / "o.csv"
    out.write_text("an earlier output\n")
    args = {"--in": plan, "--out": out}
    if clash == "rejects-is-out":
        args["--rejects"] = out
    elif clash == "report-is-in":
        args["--report"] = plan
    elif clash == "report-is-out":
        args["--report"] = out
    elif clash == "report-is-rejects":
        args["--report"] = tmp_path / "o.rejects.csv"  # the default rejects file
    elif clash == "rejects-is-in":
        args["--rejects"] = plan
    elif clash == "out-symlink-to-in":
        (tmp_path / "link.csv").symlink_to(plan)
        args["--out"] = tmp_path / "link.csv"
    elif clash == "rejects-hard-link-to-out":
        os.link(out, tmp_path / "hard.csv")
        args["--rejects"] = tmp_path / "hard.csv"
    elif clash == "report-other-spelling-of-out":
        (tmp_path / "sub").mkdir()
        args["--report"] = tmp_path / "sub" / ".." / "o.csv"
    before = _listing(tmp_path)
    contents = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    res = _score(runner, root, *[str(x) for kv in args.items() for x in kv])
    assert res.exit_code == 2, res.output
    assert "is the same file as the" in res.output and "different names" in res.output
    assert _listing(tmp_path) == before
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == contents


def test_a_report_into_a_missing_folder_is_refused_before_scoring(runner, trained, plan,
                                                                  tmp_path):
    root, _ = trained
    res = _score(runner, root, "--in", str(plan), "--out", str(tmp_path / "o.csv"),
                 "--report", str(tmp_path / "nowhere" / "r.html"))
    assert res.exit_code == 2, res.output
    assert "nowhere does not exist" in res.output and "Traceback" not in res.output
    assert _listing(tmp_path) == ["plans.csv"]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_rescoring_a_scored_file_replaces_its_score_columns(runner, trained, plan, tmp_path,
                                                            kind):
    """A scored file scored again (with fewer factors) keeps no stale or duplicate
    column, and the tool reads its own output back."""
    root, _ = trained
    first = tmp_path / f"first.{kind}"
    res = _score(runner, root, "--in", str(plan), "--out", str(first), "--top-k", "5")
    assert res.exit_code == 0, res.output
    again = tmp_path / "again.csv"
    res = _score(runner, root, "--in", str(first), "--out", str(again), "--top-k", "2")
    assert res.exit_code == 0, res.output
    from batch import output_columns
    from riskmodel import FAMILIES

    assert f"its {len(output_columns(5, FAMILIES))} score columns were replaced" in res.output
    once = tmp_path / "once.csv"
    assert _score(runner, root, "--in", str(plan), "--out", str(once),
                  "--top-k", "2").exit_code == 0
    assert again.read_bytes() == once.read_bytes()
    third = _score(runner, root, "--in", str(again), "--out", str(tmp_path / "third.csv"),
                   "--top-k", "2")
    assert third.exit_code == 0, third.output
    assert (tmp_path / "third.csv").read_bytes() == once.read_bytes()
    assert not pd.read_csv(once, nrows=0).columns.duplicated().any()
