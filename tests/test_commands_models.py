import json
import shutil

from commands.main import main
from riskmodel import Registry


def test_list_show_promote_rollback(runner, two_versions, tmp_path):
    root0, a, b, bad = two_versions
    root = tmp_path / "art"
    shutil.copytree(root0, root)
    args = ["--artifacts", str(root)]
    listing = runner.invoke(main, ["models", "list", *args])
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert any(line.startswith(f"* {a}") for line in lines)
    assert any(b in line and not line.startswith("*") for line in lines)
    assert any(bad in line and "unreadable" not in line for line in lines)

    shown = runner.invoke(main, ["models", "show", b, *args])
    assert shown.exit_code == 0
    assert json.loads(shown.output)["serving"] is False

    refused = runner.invoke(main, ["models", "promote", bad, *args])
    assert refused.exit_code == 1 and "checksum" in refused.output
    assert Registry(root).current_version() == a

    promoted = runner.invoke(main, ["models", "promote", b, "--reason", "better", *args])
    assert promoted.exit_code == 0 and f"{b} is current (was {a})" in promoted.output
    [event] = Registry(root).history()
    assert event["by"] and event["reason"] == "better" and event["previous"] == a
    assert "promote by" in runner.invoke(main, ["models", "list", *args]).output

    back = runner.invoke(main, ["models", "rollback", *args])
    assert back.exit_code == 0 and Registry(root).current_version() == a
    # like `kubectl rollout undo`, a second rollback undoes the first
    runner.invoke(main, ["models", "rollback", *args])
    assert Registry(root).current_version() == b


def test_rollback_without_history_says_so(runner, trained, tmp_path):
    root0, _ = trained
    root = tmp_path / "art"
    shutil.copytree(root0, root)
    res = runner.invoke(main, ["models", "rollback", "--artifacts", str(root)])
    assert res.exit_code == 1 and "no earlier version" in res.output


def test_outcomes_import_and_check(runner, tmp_path, monkeypatch, history_df):
    monkeypatch.setenv("RISKMODEL_DATA_DIR", str(tmp_path / "var"))
    path = tmp_path / "outcomes.csv"
    history_df.head(50).to_csv(path, index=False)  # plans attached: never scored
    first = runner.invoke(main, ["outcomes", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert "50 outcomes: 50 created" in first.output
    again = runner.invoke(main, ["outcomes", "import", str(path)])
    assert "50 unchanged" in again.output
    flipped = history_df.head(50).copy()
    flipped["failed"] = ~flipped["failed"].astype(bool)
    flipped["failure_reason"] = None
    flipped.loc[flipped["failed"], "failure_reason"] = "other"
    flipped.to_csv(path, index=False)
    conflict = runner.invoke(main, ["outcomes", "import", str(path)])
    assert conflict.exit_code == 1 and "correction" in conflict.output
    fixed = runner.invoke(main, ["outcomes", "import", str(path), "--correction"])
    assert fixed.exit_code == 0 and "50 corrected" in fixed.output
    check = runner.invoke(main, ["outcomes", "check"])
    assert check.exit_code == 0 and "store sound: 50 outcomes" in check.output
