from datetime import date, timedelta

import pytest

from service import create_app

KEY = "k-123456789"
# campaigns scored now complete later: a plan counts only if logged before completion
LATER = (date.today() + timedelta(days=30)).isoformat()
PLAN = {"campaign_id": "o-1", "marketplace": "US", "campaign_type": "lightning_deal",
        "goal_alignment_score": 0.5, "material_delay_days": 6, "resource_value_usd": 20000,
        "committed_ad_budget_usd": 3000}


@pytest.fixture
def keyed(trained, tmp_path, store_url):
    """The service on SQLite and on PostgreSQL, chosen by its database_url setting
    (RISKMODEL_DATABASE_URL in the environment)."""
    root, _ = trained
    app = create_app({"artifacts": str(root), "reload_interval": 3600.0,
                      "api_keys": f"{KEY},other-key", "data_dir": str(tmp_path),
                      "database_url": store_url})
    yield app
    store = app.extensions["riskmodel.store"]
    try:
        store().dispose()
    except Exception:  # noqa: BLE001  never opened
        pass


def _auth(key=KEY):
    return {"Authorization": f"Bearer {key}"}


def test_every_write_route_refuses_a_missing_or_wrong_key(keyed):
    client = keyed.test_client()
    writes = [(rule.rule, m) for rule in keyed.url_map.iter_rules()
              for m in rule.methods - {"GET", "HEAD", "OPTIONS"}
              if rule.rule != "/v1/score"
              and not rule.endpoint.startswith("workbench.")]  # forms: test_workbench.py
    assert ("/v1/outcomes", "POST") in writes
    for path, method in writes:
        for headers in ({}, _auth("wrong"), {"X-API-Key": "wrong"}, _auth("")):
            r = client.open(path, method=method, json={"campaign_id": "x", "failed": True},
                            headers=headers)
            assert r.status_code == 401, (path, method, headers)
            assert r.mimetype == "application/problem+json"
            assert r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("headers", [
    {"Authorization": "Basic Zm9vOmJhcg==", "X-API-Key": KEY},
    {"Authorization": f"Bearer {KEY}", "X-API-Key": "wrong"},
    {"Authorization": "Bearer wrong", "X-API-Key": KEY},
], ids=["other-scheme-beside-a-right-key", "wrong-key-beside-a-right-bearer",
        "wrong-bearer-beside-a-right-key"])
def test_a_wrong_credential_beside_a_right_one_is_401(keyed, headers):
    """No credential a client sends is ignored (schemathesis's ignored_auth check found an
    Authorization header of another scheme ignored beside a right X-API-Key)."""
    r = keyed.test_client().post("/v1/outcomes", json={"campaign_id": "x", "failed": True},
                                 headers=headers)
    assert r.status_code == 401 and r.get_json()["detail"] == "the API key is not valid"


def test_scoring_can_require_a_key(trained, tmp_path):
    root, _ = trained
    app = create_app({"artifacts": str(root), "api_keys": KEY,
                      "scoring_requires_key": True, "data_dir": str(tmp_path)})
    c = app.test_client()
    assert c.post("/v1/score", json=PLAN).status_code == 401
    assert c.post("/v1/score", json=PLAN, headers={"X-API-Key": KEY}).status_code == 200


def test_score_then_outcome_idempotent_and_conflict(keyed):
    c = keyed.test_client()
    assert c.post("/v1/score", json=PLAN).status_code == 200
    keyed.extensions["riskmodel.predlog"].flush()
    outcome = {"campaign_id": "o-1", "failed": True, "failure_reason": "material_delay",
               "completed_on": LATER}
    first = c.post("/v1/outcomes", json=outcome, headers=_auth())
    again = c.post("/v1/outcomes", json=outcome, headers=_auth("other-key"))
    assert first.status_code == again.status_code == 200
    assert first.get_json()["results"][0] == {"campaign_id": "o-1", "status": "created",
                                              "scored_before": True, "revision": 1}
    assert again.get_json()["results"][0]["status"] == "unchanged"
    conflict = c.post("/v1/outcomes", json=dict(outcome, failed=False, failure_reason=None),
                      headers=_auth())
    assert conflict.status_code == 409
    assert conflict.get_json()["conflicts"][0]["campaign_id"] == "o-1"
    fixed = c.post("/v1/outcomes", json=dict(outcome, failed=False, failure_reason=None,
                                             correction=True), headers=_auth())
    assert fixed.get_json()["results"][0]["status"] == "corrected"
    store = keyed.extensions["riskmodel.store"]()
    [logged] = store.predictions_for("o-1")
    assert logged["inputs"] == PLAN and logged["source"] == "api"


def test_an_unscored_campaign_needs_its_plan(keyed):
    c = keyed.test_client()
    bare = {"campaign_id": "new-1", "failed": False}
    r = c.post("/v1/outcomes", json=bare, headers=_auth())
    # valid by the OpenAPI document: refused for the store's state, as a conflict is
    assert r.status_code == 409 and "never scored" in r.get_json()["detail"]
    assert r.get_json()["type"] == "/problems/unknown-campaign"
    r = c.post("/v1/outcomes", json=dict(bare, plan=dict(PLAN, campaign_id="new-1")),
               headers=_auth())
    assert r.status_code == 200
    assert r.get_json()["results"][0]["scored_before"] is False


@pytest.mark.parametrize("body,column", [
    ({"campaign_id": "x", "failed": "yes"}, "failed"),
    ({"campaign_id": "x", "failed": True, "failure_reason": "bad luck"}, "failure_reason"),
    ({"campaign_id": "x", "failed": False, "failure_reason": "other"}, "failure_reason"),
    ({"campaign_id": "x", "failed": True, "completed_on": "yesterday"}, "completed_on"),
    ({"campaign_id": "x", "failed": True, "colour": 1}, "colour"),
    ({"campaign_id": "x", "failed": True, "plan": {"campaign_id": "x"}},
     "plan/goal_alignment_score"),
    ({"campaign_id": "o-1", "failed": True, "plan": dict(PLAN, colour="red")}, "plan/colour"),
], ids=["failed-not-bool", "unknown-reason", "reason-on-success", "bad-date",
        "unknown-field", "incomplete-plan", "unknown-field-in-plan"])
def test_invalid_outcomes_are_422(keyed, body, column):
    r = keyed.test_client().post("/v1/outcomes", json=body, headers=_auth())
    assert r.status_code == 422
    assert column in [e["column"] for e in r.get_json()["errors"]]


def test_requests_on_several_threads_open_one_store(trained, tmp_path, monkeypatch):
    """granian runs a worker's requests on several threads: the first ones at once must not
    each open (and migrate) a store of their own."""
    import threading
    import time

    import riskmodel

    opened, migrated = [], []

    class SlowStore:
        location = "(test)"

        def __init__(self, url, **kw):
            opened.append(url)

        def migrate(self):
            migrated.append(1)
            time.sleep(0.2)  # a database that takes a moment to migrate
            return []

    # the holder takes riskmodel.Store on first use (SQLAlchemy is imported then)
    monkeypatch.setattr(riskmodel, "Store", SlowStore)
    root, _ = trained
    app = create_app({"artifacts": str(root), "data_dir": str(tmp_path)})
    store = app.extensions["riskmodel.store"]
    got = []
    threads = [threading.Thread(target=lambda: got.append(store())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(opened) == 1 and len(migrated) == 1
    assert len(got) == 4 and len({id(s) for s in got}) == 1
