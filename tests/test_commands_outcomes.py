"""Commands that use the store (commands/outcomes.py, retrain, score --log-predictions):
each shows the store it uses, as an absolute path, and the ones that only read never
create one."""

import pytest

from commands.main import main


@pytest.fixture
def history_file(tmp_path, history_df):
    path = tmp_path / "outcomes.csv"
    history_df.head(20).to_csv(path, index=False)  # plans attached: never scored
    return path


def test_outcomes_check_refuses_a_store_that_does_not_exist(runner, tmp_path, monkeypatch):
    var = tmp_path / "var"
    monkeypatch.setenv("RISKMODEL_DATA_DIR", str(var))
    res = runner.invoke(main, ["outcomes", "check"])
    assert res.exit_code == 1, res.output
    assert f"no store at {var / 'riskmodel.sqlite3'}" in res.output
    assert "RISKMODEL_DATA_DIR" in res.output and "Traceback" not in res.output
    assert not var.exists()


def test_a_command_run_from_another_folder_names_the_store_it_looks_for(
        runner, tmp_path, monkeypatch, history_file):
    """The default store is ``var`` in the folder a command runs in: run elsewhere, a
    read-only command says which store it looked for instead of reporting an empty one."""
    monkeypatch.delenv("RISKMODEL_DATA_DIR", raising=False)
    service_dir, elsewhere = tmp_path / "service", tmp_path / "elsewhere"
    service_dir.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(service_dir)
    imported = runner.invoke(main, ["outcomes", "import", str(history_file)])
    assert imported.exit_code == 0, imported.output
    assert f"store: {service_dir / 'var' / 'riskmodel.sqlite3'}" in imported.output
    check = runner.invoke(main, ["outcomes", "check"])
    assert check.exit_code == 0 and "store sound: 20 outcomes" in check.output
    assert f"store: {service_dir / 'var' / 'riskmodel.sqlite3'}" in check.output
    monkeypatch.chdir(elsewhere)
    lost = runner.invoke(main, ["outcomes", "check"])
    assert lost.exit_code == 1
    assert f"no store at {elsewhere / 'var' / 'riskmodel.sqlite3'}" in lost.output
    assert str(elsewhere) in lost.output and not (elsewhere / "var").exists()


def test_retrain_never_creates_a_store(runner, trained, tmp_path, monkeypatch):
    root, _ = trained
    var = tmp_path / "var"
    monkeypatch.setenv("RISKMODEL_DATA_DIR", str(var))
    res = runner.invoke(main, ["retrain", "--artifacts", str(root)])
    assert res.exit_code == 1 and f"no store at {var}" in res.output
    assert not var.exists()


def test_score_shows_the_store_it_logs_to(runner, trained, plans_csv, tmp_path, monkeypatch):
    root, _ = trained
    monkeypatch.delenv("RISKMODEL_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(main, ["score", "--artifacts", str(root), "--in", str(plans_csv),
                               "--out", "o.csv", "--log-predictions"])
    assert res.exit_code == 0, res.output
    assert f"store: {tmp_path / 'var' / 'riskmodel.sqlite3'}" in res.output


@pytest.mark.parametrize("args,message", [
    (["--model", ""], "--model"),
    (["--model", " "], "--model"),
], ids=["empty", "blank"])
def test_score_refuses_an_empty_model_version(runner, trained, plans_csv, tmp_path, args,
                                              message):
    root, _ = trained
    res = runner.invoke(main, ["score", "--artifacts", str(root), "--in", str(plans_csv),
                               "--out", str(tmp_path / "o.csv"), *args])
    assert res.exit_code == 2 and message in res.output and "CURRENT" in res.output
    assert not (tmp_path / "o.csv").exists()


def test_score_says_a_folder_is_a_folder(runner, trained, tmp_path):
    root, _ = trained
    res = runner.invoke(main, ["score", "--artifacts", str(root), "--in", str(tmp_path),
                               "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 2 and "is a folder" in res.output
    assert "does not exist" not in res.output
