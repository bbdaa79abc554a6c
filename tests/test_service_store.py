"""The service's store (service/store.py): a vanished, replaced or read-only SQLite file is
503 ``store-unavailable`` for outcome posts until it is back, /readyz says so and stays
ready for scoring, and the prediction log holds its rows meanwhile."""

import json
import os
import shutil
import signal
import time
import urllib.error
import urllib.request

import pytest
from conftest import read_only, start_server, stop_server, wait_ready

from riskmodel import Store
from service import create_app

KEY = "store-key"
PLAN = {"campaign_id": "s-1", "goal_alignment_score": 0.5, "material_delay_days": 2,
        "resource_value_usd": 10000, "committed_ad_budget_usd": 3000}


def _outcome(cid):
    return {"campaign_id": cid, "failed": False, "plan": dict(PLAN, campaign_id=cid)}


@pytest.fixture
def served(trained, tmp_path):
    root, _ = trained
    app = create_app({"artifacts": str(root), "reload_interval": 3600.0, "api_keys": KEY,
                      "data_dir": str(tmp_path / "var")})
    yield app, app.test_client(), tmp_path / "var"
    app.extensions["riskmodel.store"].dispose()


def _post(client, cid):
    return client.post("/v1/outcomes", json=_outcome(cid), headers={"X-API-Key": KEY})


def _unavailable(r, word):
    assert r.status_code == 503, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["type"] == "/problems/store-unavailable" and word in body["detail"]
    assert r.headers["Retry-After"]
    return body


def test_outcomes_are_503_while_the_data_folder_is_gone_and_200_when_it_is_back(served):
    app, c, var = served
    assert _post(c, "s-1").status_code == 200
    away = var.with_name("var-moved")
    var.rename(away)  # `git clean -fdx`, a temp cleaner, a mistaken mv
    _unavailable(_post(c, "s-2"), "vanished")
    ready = c.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    assert ready.get_json()["store"]["status"] == "unavailable"
    assert "vanished" in ready.get_json()["store"]["reason"]
    assert c.post("/v1/score", json=PLAN).status_code == 200  # scoring goes on
    assert not var.exists()  # no empty store made in its place
    away.rename(var)
    assert _post(c, "s-2").status_code == 200
    assert c.get("/readyz").get_json()["store"] == {"status": "available", "reason": None}
    assert app.extensions["riskmodel.store"]().outcome_count() == 2


def test_a_replaced_store_file_is_503_not_a_new_empty_store(served):
    app, c, var = served
    assert _post(c, "s-1").status_code == 200
    shutil.rmtree(var)
    fresh = Store(f"sqlite:///{var / 'riskmodel.sqlite3'}")  # what some other tool made
    fresh.migrate()
    fresh.dispose()
    _unavailable(_post(c, "s-2"), "replaced")
    assert c.get("/readyz").get_json()["store"]["status"] == "unavailable"


def test_a_read_only_store_is_503_and_the_prediction_log_holds_its_rows(served):
    app, c, var = served
    assert _post(c, "s-1").status_code == 200
    predlog = app.extensions["riskmodel.predlog"]
    predlog.flush()
    with read_only(var / "riskmodel.sqlite3"):
        _unavailable(_post(c, "s-2"), "read-only")
        campaigns = [dict(PLAN, campaign_id=f"r-{i}") for i in range(3)]
        assert c.post("/v1/score", json={"campaigns": campaigns}).status_code == 200
        for _ in range(4):  # retries: the rows are counted once
            assert predlog.flush() == 0
        ready = c.get("/readyz").get_json()
        assert ready["status"] == "ready" and ready["store"]["status"] == "unavailable"
        assert ready["prediction_log"]["status"] == "failing"
        assert ready["prediction_log"]["queued"] == 3
        metrics = c.get("/metrics").get_data(as_text=True)
        assert "riskmodel_prediction_log_failures_total 3.0" in metrics
    assert predlog.flush() == 3
    assert c.get("/readyz").get_json()["prediction_log"]["status"] == "writing"
    assert _post(c, "s-2").status_code == 200


def test_an_empty_key_list_is_announced_at_start_up(trained, tmp_path, service_log):
    root, _ = trained
    create_app({"artifacts": str(root), "data_dir": str(tmp_path), "api_keys": ""})
    warned = [r for r in service_log if "RISKMODEL_API_KEYS is empty" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelname == "WARNING"
    service_log.clear()
    create_app({"artifacts": str(root), "data_dir": str(tmp_path), "api_keys": KEY})
    assert not [r for r in service_log if "RISKMODEL_API_KEYS" in r.getMessage()]


def _request(port, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data,
                                 {"Content-Type": "application/json", "X-API-Key": KEY})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _workers(pid: int) -> set[int]:
    """The child processes of ``pid`` (Linux /proc)."""
    out: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out |= {int(c) for c in f.read().split()}
        except OSError:
            pass
    return out


def test_serve_refuses_outcomes_in_every_worker_after_the_data_folder_is_deleted(
        trained, tmp_path):
    """Two workers, the data folder deleted under them: every outcome post is 503 — from a
    worker started after the deletion too, which must not create a fresh store in its
    place."""
    root, _ = trained
    var, metrics = tmp_path / "var", tmp_path / "metrics"
    metrics.mkdir()
    proc, port = start_server(root, {"RISKMODEL_API_KEYS": KEY, "RISKMODEL_DATA_DIR": str(var),
                                     "PROMETHEUS_MULTIPROC_DIR": str(metrics)})
    try:
        wait_ready(proc, port)
        assert _request(port, "/v1/outcomes", _outcome("g-0"))[0] == 200
        shutil.rmtree(var)
        statuses = {_request(port, "/v1/outcomes", _outcome(f"g-{i}"))[0]
                    for i in range(1, 9)}
        assert statuses == {503}
        before = _workers(proc.pid)
        os.kill(min(before), signal.SIGKILL)  # the server starts a new worker
        # the new worker has created its app once it has set its model gauge
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            new = _workers(proc.pid) - before
            if new and any(metrics.glob(f"*_{min(new)}.db")):
                break
            time.sleep(0.1)
        else:
            pytest.fail("no new worker started within 60 s")
        statuses = {_request(port, "/v1/outcomes", _outcome(f"h-{i}"))[0]
                    for i in range(8)}
        assert statuses == {503}
        assert not var.exists()
        status, ready = _request(port, "/readyz")
        assert status == 200 and ready["store"]["status"] == "unavailable"
    finally:
        stop_server(proc)


def test_serve_creates_the_store_at_the_first_outcome_and_refuses_a_swapped_file(
        trained, tmp_path):
    """``riskmodel serve`` on a data folder that does not exist: its main process makes
    the store's empty file (its identity pins it for the workers) and nothing more; the
    first outcome post creates the tables (a worker migrates on first use); a file
    swapped in under the same name afterwards is refused by every worker."""
    from riskmodel.store import MIGRATIONS

    root, _ = trained
    var = tmp_path / "var"
    proc, port = start_server(root, {"RISKMODEL_API_KEYS": KEY, "RISKMODEL_DATA_DIR": str(var),
                                     "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    db = var / "riskmodel.sqlite3"
    try:
        wait_ready(proc, port)
        assert db.is_file() and db.stat().st_size == 0  # pinned, not yet migrated
        status, ready = _request(port, "/readyz")
        assert status == 200 and ready["store"]["status"] == "available"
        assert _request(port, "/v1/outcomes", _outcome("f-0"))[0] == 200
        store = Store(f"sqlite:///{db}", create=False)
        try:
            assert store.schema_version() == MIGRATIONS[-1][0]
            assert store.outcome_count() == 1
        finally:
            store.dispose()
        swapped = tmp_path / "swapped.sqlite3"
        shutil.copy(db, swapped)
        os.replace(swapped, db)  # the same name, another file
        statuses = {_request(port, "/v1/outcomes", _outcome(f"f-{i}"))[0]
                    for i in range(1, 9)}
        assert statuses == {503}
        status, ready = _request(port, "/readyz")
        assert status == 200 and ready["store"]["status"] == "unavailable"
        assert "replaced" in ready["store"]["reason"]
    finally:
        stop_server(proc)
