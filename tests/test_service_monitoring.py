"""GET /v1/monitoring and the monitoring gauges (service/monitoring.py,
service/views/monitoring.py)."""

import re
import time

import pytest
from monitoring_data import fill_store, without_reference

from riskmodel import Store
from service import create_app
from training.synthetic import Shift

KEY = "k-monitor-1234"


@pytest.fixture
def app(trained, tmp_path):
    root, _ = trained
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    app = create_app({"artifacts": str(root), "reload_interval": 3600.0, "api_keys": KEY,
                      "database_url": url})
    app.config["store_url"] = url
    yield app
    app.extensions["riskmodel.store"].dispose()


def _get(client, query="", key=KEY):
    return client.get(f"/v1/monitoring{query}", headers={"X-API-Key": key} if key else {})


def test_monitoring_needs_a_key(app):
    client = app.test_client()
    for key in (None, "wrong"):
        r = _get(client, key=key)
        assert r.status_code == 401 and r.mimetype == "application/problem+json"


def test_the_same_json_as_the_command(app, scorer, runner, trained):
    from commands.main import main

    fill_store(app.config["store_url"], scorer, Shift(delay_days=10))
    r = _get(app.test_client())
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["verdict"] == "retrain recommended"
    assert {f["factor"] for f in body["input_drift"]["factors"] if f["moved"]} == \
        {"material_delay_days"}
    root, _ = trained
    done = runner.invoke(main, ["monitor", "--artifacts", str(root), "--json"],
                         env={"RISKMODEL_DATABASE_URL": app.config["store_url"]})
    import json

    cli = json.loads(done.stdout)
    for key in ("verdict", "reasons", "reason_codes", "input_drift", "score_drift",
                "performance", "window"):
        assert cli[key] == body[key], key
    codes = [r["code"] for r in body["reason_codes"]]  # beside the English, one each
    assert len(codes) == len(body["reasons"]) and codes[0] == "factor_moved"
    assert body["reason_codes"][0]["params"]["factor"] == "material_delay_days"
    _valid_by_the_document(app, body)


def _valid_by_the_document(app, body):
    """``body`` conforms to the document's schema of a monitoring result (jsonschema_rs:
    schemathesis's validator)."""
    import jsonschema_rs

    document = app.test_client().get("/openapi.json").get_json()
    schema = document["paths"]["/v1/monitoring"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    jsonschema_rs.validate(dict(schema, components=document["components"]), body)


def test_a_result_is_reused_for_a_minute(app, scorer):
    fill_store(app.config["store_url"], scorer)
    client = app.test_client()
    first = _get(client).get_json()
    _fill_more = Store(app.config["store_url"])
    _fill_more.log_predictions([{"campaign_id": "late-1", "model_version": "v",
                                 "failure_risk": 0.2, "risk_band": "low", "source": "api",
                                 "request_id": None,
                                 "inputs": {"campaign_id": "late-1",
                                            "goal_alignment_score": 0.5,
                                            "material_delay_days": 1,
                                            "resource_value_usd": 1000,
                                            "committed_ad_budget_usd": 300}}])
    _fill_more.dispose()
    again = _get(client).get_json()
    assert again["computed_at"] == first["computed_at"]
    assert again["window"]["campaigns"] == 800
    app.extensions["riskmodel.monitoring"].max_age = 0  # a minute later
    assert _get(client).get_json()["window"]["campaigns"] == 801


@pytest.mark.parametrize("query, status, kind", [
    ("?since=2025-01-01&until=2025-02-01", 409, "cannot-monitor"),
    ("?since=last-week", 422, "invalid-parameter"),
    ("?since=2026-10-01&until=2026-09-01", 422, "invalid-parameter"),
    ("?until=", 422, "invalid-parameter"),
], ids=["empty-window", "bad-date", "until-before-since", "empty-date"])
def test_what_cannot_be_monitored_is_a_problem(app, scorer, query, status, kind):
    fill_store(app.config["store_url"], scorer, n=200)
    r = _get(app.test_client(), query)
    assert r.status_code == status and r.get_json()["type"] == f"/problems/{kind}"


def test_an_empty_window_is_said_in_the_requests_language(app, scorer):
    """The 409's detail is a text of the catalog, not the core's English message."""
    from test_i18n import english_left

    fill_store(app.config["store_url"], scorer, n=200)
    client = app.test_client()
    query = "?since=2025-01-01&until=2025-02-01"
    zh = client.get(f"/v1/monitoring{query}&lang=zh-CN", headers={"X-API-Key": KEY})
    en = _get(client, query)
    assert zh.status_code == en.status_code == 409
    assert zh.get_json()["type"] == en.get_json()["type"] == "/problems/cannot-monitor"
    assert zh.headers["Content-Language"] == "zh-CN"
    assert english_left(zh.get_json()["title"] + zh.get_json()["detail"]) == []
    assert "nothing to monitor yet" in en.get_json()["detail"]


def test_a_cannot_monitor_answer_carries_what_its_schema_documents(trained, scorer, tmp_path):
    """A version without reference statistics: 409 ``cannot-monitor``, its detail in the
    catalog's words and the core's reason beside it; every key of the answer is one the
    openapi document's Problem names."""
    root, _ = trained
    copy = without_reference(root, scorer.version, tmp_path / "art")
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    fill_store(url, scorer, n=200)
    app = create_app({"artifacts": str(copy), "reload_interval": 3600.0, "api_keys": KEY,
                      "database_url": url, "log_predictions": False})
    try:
        client = app.test_client()
        r = _get(client)
        assert r.status_code == 409 and r.get_json()["type"] == "/problems/cannot-monitor"
        assert "reference statistics" in r.get_json()["reason"]
        schema = client.get("/openapi.json").get_json()["components"]["schemas"]["Problem"]
        assert set(r.get_json()) <= set(schema["properties"])
    finally:
        app.extensions["riskmodel.store"].dispose()


def test_the_gauges_are_refreshed_in_the_background_of_a_scrape(app, scorer):
    fill_store(app.config["store_url"], scorer, Shift(budget_ratio_factor=0.5))
    client = app.test_client()
    client.get("/metrics")  # starts the refresh; answers with what it has
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = client.get("/metrics").get_data(as_text=True)
        if "riskmodel_monitoring_factor_psi{" in text:
            break
        time.sleep(0.2)
    assert re.search(r'riskmodel_monitoring_verdict\{verdict="retrain recommended"\} 1\.0',
                     text)
    assert re.search(r'riskmodel_monitoring_factor_moved\{factor="budget_match_ratio"\} 1\.0',
                     text)
    assert re.search(r'riskmodel_monitoring_factor_moved\{factor="category"\} 0\.0', text)
    assert "riskmodel_monitoring_outcomes 800.0" in text
