"""``riskmodel monitor`` (commands/monitor.py): the verdict as an exit status, JSON, the
HTML report, and bad input as one clear line."""

import json
import re

import pytest
from monitoring_data import fill_store, without_reference

from commands.main import main
from training.synthetic import Shift


def _store_with(tmp_path, scorer, shift=None, outcomes=True, n=1500):
    url = f"sqlite:///{tmp_path / 'var' / 'riskmodel.sqlite3'}"
    fill_store(url, scorer, shift, n=n, outcomes=outcomes)
    return url


def _run(runner, trained, url, *args):
    root, _ = trained
    return runner.invoke(main, ["monitor", "--artifacts", str(root), *args],
                         env={"RISKMODEL_DATABASE_URL": url})


@pytest.mark.parametrize("shift, verdict, status", [
    (None, "ok", 0),
    (Shift(delay_days=3), "watch", 3),
    (Shift(delay_days=10), "retrain recommended", 4),
], ids=["unshifted-ok-0", "slightly-later-watch-3", "later-retrain-4"])
def test_the_verdict_is_the_exit_status(runner, trained, scorer, tmp_path, shift, verdict,
                                        status):
    url = _store_with(tmp_path, scorer, shift)
    done = _run(runner, trained, url, "--json")
    assert done.exit_code == status, done.output
    result = json.loads(done.stdout)
    assert result["verdict"] == verdict
    assert len(result["reason_codes"]) == len(result["reasons"])  # a code for each
    assert all(r["level"] in ("retrain", "watch") for r in result["reason_codes"])
    assert result["window"]["campaigns"] == 1500 and result["performance"]["outcomes"] == 1500
    text = _run(runner, trained, url)
    assert text.exit_code == status and f": {verdict.upper()}" in text.stdout


def test_the_report_is_one_self_contained_page(runner, trained, scorer, tmp_path):
    url = _store_with(tmp_path, scorer, Shift(budget_ratio_factor=0.5))
    page = tmp_path / "monitoring.html"
    done = _run(runner, trained, url, "--report", str(page))
    assert done.exit_code == 4, done.output
    html = page.read_text()
    assert html.count("<svg") == 3  # drift, failures over time, reliability
    assert "retrain recommended" in html and "budget_match_ratio" in html
    # nothing to fetch: no external scripts, styles or images
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert not list(tmp_path.glob(".monitoring.html*"))


def test_no_outcomes_yet_is_said_not_failed(runner, trained, scorer, tmp_path):
    url = _store_with(tmp_path, scorer, outcomes=False)
    done = _run(runner, trained, url)
    assert done.exit_code == 0, done.output
    assert "no outcomes completed at all yet" in done.stdout


@pytest.mark.parametrize("args, status, message", [
    (["--since", "2025-01-01", "--until", "2025-02-01"], 1,
     "no campaign was scored from 2025-01-01"),
    (["--since", "yesterday"], 2, "expected a date such as 2026-10-01"),
    (["--since", "2026-10-01", "--until", "2026-09-01"], 2, "must be after --since"),
    (["--report", "out.pdf"], 2, "expected an .html file name"),
], ids=["empty-window", "bad-date", "until-before-since", "report-not-html"])
def test_bad_input_is_one_clear_line(runner, trained, scorer, tmp_path, args, status,
                                     message):
    url = _store_with(tmp_path, scorer, n=300, outcomes=False)
    done = _run(runner, trained, url, *args)
    assert done.exit_code == status
    assert message in done.output and "Traceback" not in done.output


def test_a_model_without_reference_statistics_is_named(runner, trained, scorer, tmp_path):
    root, result = trained
    copy = without_reference(root, result.version, tmp_path / "artifacts")
    url = _store_with(tmp_path, scorer, n=300, outcomes=False)
    done = runner.invoke(main, ["monitor", "--artifacts", str(copy)],
                         env={"RISKMODEL_DATABASE_URL": url})
    assert done.exit_code == 1
    assert "has no reference statistics" in done.output and "Traceback" not in done.output


def test_a_missing_store_is_an_error_never_created(runner, trained, tmp_path):
    path = tmp_path / "nowhere" / "riskmodel.sqlite3"
    done = _run(runner, trained, f"sqlite:///{path}")
    assert done.exit_code == 1 and "no store at" in done.output
    assert not path.exists()


def test_every_verdict_has_its_own_exit_status():
    from commands.monitor import EXIT_STATUS
    from riskmodel import VERDICTS

    assert set(EXIT_STATUS) == set(VERDICTS)
    assert sorted(EXIT_STATUS.values()) == [0, 3, 4]
