import io
import json
import re
from datetime import UTC, datetime

import orjson
import pytest

from riskmodel import SCHEMA
from service import create_app

GOOD = {"campaign_id": "svc-1", "marketplace": "US", "category": "home",
        "campaign_type": "lightning_deal", "duration_days": 1, "goal_alignment_score": 0.5,
        "mou_signed": False, "material_delay_days": 8, "resource_value_usd": 20000,
        "committed_ad_budget_usd": 3000, "attribution_enabled": False}


def test_score_one_campaign(client, scorer):
    r = client.post("/v1/score", json=GOOD)
    assert r.status_code == 200
    body = r.get_json()
    [res] = body["results"]
    [expected] = scorer.score(GOOD)
    assert res["failure_risk"] == pytest.approx(expected.failure_risk, abs=1e-12)
    assert res["risk_band"] == expected.risk_band
    assert len(res["top_factors"]) == 3
    assert body["model_version"] == scorer.version == res["model_version"]
    assert body["request_id"] == r.headers["X-Request-ID"]
    total = res["base_value"] + sum(res["contributions"].values())
    assert total == pytest.approx(res["log_odds"], abs=1e-9)
    raising = [f for f in res["top_factors"] if f["direction"] == "raises" and f["actionable"]]
    assert raising and all(f["what_if"]["failure_risk"] < res["failure_risk"] for f in raising)


def test_score_many_in_order_and_top_k(client):
    campaigns = [dict(GOOD, campaign_id=f"c{i}", material_delay_days=i) for i in range(5)]
    r = client.post("/v1/score?top_k=6", json={"campaigns": campaigns})
    assert r.status_code == 200
    results = r.get_json()["results"]
    assert [x["campaign_id"] for x in results] == [c["campaign_id"] for c in campaigns]
    assert all(len(x["top_factors"]) == 6 for x in results)
    assert client.post("/v1/score?top_k=0", json=GOOD).get_json()["results"][0][
        "top_factors"] == []


def _problem(r, status):
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    body = r.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"]
    return body


@pytest.mark.parametrize("raw,fields", [
    ('{"campaign_id": "x", "goal_alignment_score": NaN, "material_delay_days": 1, '
     '"resource_value_usd": 1, "committed_ad_budget_usd": 1}', ["goal_alignment_score"]),
    ('{"campaign_id": "x", "goal_alignment_score": 0.5, "material_delay_days": Infinity, '
     '"resource_value_usd": -Infinity, "committed_ad_budget_usd": 1}',
     ["material_delay_days", "resource_value_usd"]),
    (json.dumps(dict(GOOD, duration_days="two")), ["duration_days"]),
    (json.dumps(dict(GOOD, colour="red", size=3)), ["colour", "size"]),
    (json.dumps(dict(GOOD, marketplace="Atlantis")), ["marketplace"]),
    (json.dumps(dict(GOOD, goal_alignment_score=1.5, committed_ad_budget_usd=-1)),
     ["goal_alignment_score", "committed_ad_budget_usd"]),
    (json.dumps({k: v for k, v in GOOD.items() if k != "material_delay_days"}),
     ["material_delay_days"]),
    (json.dumps(dict(GOOD, material_delay_days=10**400, duration_days=1e308)),
     ["material_delay_days", "duration_days"]),
    (json.dumps(dict(GOOD, campaign_id="   ", mou_signed=1)), ["campaign_id", "mou_signed"]),
], ids=["nan", "infinity", "wrong-type", "unknown-fields", "unknown-category",
        "out-of-range", "missing-required", "beyond-any-float", "blank-and-0-1"])
def test_invalid_campaigns_are_422_naming_each_field(client, raw, fields):
    r = client.post("/v1/score", data=raw, content_type="application/json")
    body = _problem(r, 422)
    assert sorted(e["column"] for e in body["errors"]) == sorted(fields)
    for e in body["errors"]:
        assert e["pointer"] == f"/{e['column']}" and e["row"] == 1 and e["allowed"]


def test_batch_errors_point_into_the_array(client):
    r = client.post("/v1/score", json={"campaigns": [GOOD, dict(GOOD, mou_signed="perhaps")]})
    body = _problem(r, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/campaigns/1/mou_signed"]


@pytest.mark.parametrize("raw", ["{not json", "[" * 100_000, '{"campaign_id": "\\ud800"'],
                         ids=["garbage", "nested-too-deep", "unfinished"])
def test_malformed_json_is_400(client, raw):
    _problem(client.post("/v1/score", data=raw, content_type="application/json"), 400)


def test_wrong_content_type_is_415(client):
    _problem(client.post("/v1/score", data="campaign_id=x", content_type="text/plain"), 415)


def test_body_over_the_limit_is_413(trained):
    root, _ = trained
    small = create_app({"artifacts": str(root), "max_body_bytes": 1000}).test_client()
    body = _problem(small.post("/v1/score", json=dict(GOOD, campaign_id="x" * 100,
                                                      pad=["y" * 2000])), 413)
    assert body["type"] == "/problems/body-too-large"


def test_too_many_campaigns_is_422_with_the_limit(trained):
    root, _ = trained
    c = create_app({"artifacts": str(root), "max_campaigns": 3}).test_client()
    body = _problem(c.post("/v1/score", json={"campaigns": [GOOD] * 4}), 422)
    assert "at most 3 campaigns" in body["detail"] and "got 4" in body["detail"]


@pytest.mark.parametrize("query", ["top_k=-1", "top_k=99", "top_k=three"])
def test_bad_top_k_is_422(client, query):
    body = _problem(client.post(f"/v1/score?{query}", json=GOOD), 422)
    assert body["errors"][0]["column"] == "top_k"


@pytest.mark.parametrize("payload", [[1, 2], "text", 3, {"campaigns": []},
                                     {"campaigns": [GOOD], "extra": 1}, {"campaigns": "x"}],
                         ids=["array", "string", "number", "empty-batch", "extra-key",
                              "not-a-list"])
def test_wrong_shapes_are_422(client, payload):
    _problem(client.post("/v1/score", json=payload), 422)


def test_unknown_route_and_method_are_problems(client):
    _problem(client.get("/v2/nothing"), 404)
    _problem(client.get("/v1/score"), 405)


def test_model_endpoint(client, scorer):
    body = client.get("/v1/model").get_json()
    assert body["model_version"] == scorer.version
    assert body["bands"] == scorer.bands
    assert body["attribution"] == "shapley-purified"
    assert {"roc_auc", "ece", "brier"} <= set(body["metrics"])
    assert [c["name"] for c in body["schema"]["columns"]] == list(SCHEMA.names)
    assert body["created_at"]


def test_health_and_ready(client, scorer):
    assert client.get("/healthz").status_code == 200
    r = client.get("/readyz")
    assert r.status_code == 200 and r.get_json()["model_version"] == scorer.version


def test_a_corrupt_model_at_start_up_starts_unready(two_versions, tmp_path):
    import shutil

    root, _, _, bad = two_versions
    dst = tmp_path / "art"
    shutil.copytree(root, dst)
    (dst / "CURRENT").write_text(bad + "\n")
    c = create_app({"artifacts": str(dst)}).test_client()
    assert c.get("/healthz").status_code == 200
    r = c.get("/readyz")
    assert r.status_code == 503
    assert "checksum" in r.get_json()["reason"]
    _problem(c.post("/v1/score", json=GOOD), 503)
    metrics = c.get("/metrics").get_data(as_text=True)
    assert 'riskmodel_model_refused_total{reason="invalid"} 1.0' in metrics


def test_no_model_at_all_is_unready(tmp_path):
    c = create_app({"artifacts": str(tmp_path)}).test_client()
    r = c.get("/readyz")
    assert r.status_code == 503 and "no model is current" in r.get_json()["reason"]


def test_hot_swap_and_refusal_in_process(two_versions, tmp_path):
    import shutil

    root, a, b, bad = two_versions
    dst = tmp_path / "art"
    shutil.copytree(root, dst)
    app = create_app({"artifacts": str(dst), "reload_interval": 0.0})
    c = app.test_client()
    assert c.post("/v1/score", json=GOOD).get_json()["model_version"] == a
    (dst / "CURRENT").write_text(b + "\n")
    assert c.post("/v1/score", json=GOOD).get_json()["model_version"] == b
    (dst / "CURRENT").write_text(bad + "\n")
    assert c.post("/v1/score", json=GOOD).get_json()["model_version"] == b
    ready = c.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["last_refused"]["version"] == bad
    assert "checksum" in ready["last_refused"]["reason"]


def test_metrics_count_requests_scores_and_rejections(client):
    client.post("/v1/score", json=GOOD)
    client.post("/v1/score", json=dict(GOOD, marketplace="XX"))
    text = client.get("/metrics").get_data(as_text=True)
    assert ('riskmodel_http_request_duration_seconds_count{method="POST",route="/v1/score",'
            'status="200"} 1.0') in text
    assert 'riskmodel_input_rejections_total{field="marketplace"} 1.0' in text
    assert "riskmodel_scores_total{band=" in text
    assert "riskmodel_http_request_duration_seconds_bucket" in text
    assert "riskmodel_model_loaded{model_version=" in text


def test_made_up_methods_share_one_metric_label(client):
    for method in ("BREW", "WHEN", "BREW"):
        assert client.open("/v1/score", method=method).status_code == 405
    text = client.get("/metrics").get_data(as_text=True)
    assert ('riskmodel_http_request_duration_seconds_count{method="other",route="(unmatched)",'
            'status="405"} 3.0') in text  # no rule matched the method
    assert "BREW" not in text and "WHEN" not in text


def test_logs_are_json_with_the_request_id(app):
    import logging

    handler = logging.getLogger("riskmodel.service").handlers[0]
    stream, handler.stream = handler.stream, io.StringIO()
    try:
        app.test_client().post("/v1/score", json=GOOD, headers={"X-Request-ID": "trace-42"})
        lines = [orjson.loads(line) for line in handler.stream.getvalue().splitlines()]
    finally:
        handler.stream = stream
    [line] = [x for x in lines if x.get("path") == "/v1/score"]
    assert line["request_id"] == "trace-42" and line["status"] == 200
    when = datetime.fromisoformat(line["time"])  # ISO 8601, UTC, milliseconds
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    assert abs((datetime.now(UTC) - when).total_seconds()) < 60
    assert line["model_version"] and line["duration_ms"] >= 0


def test_every_answer_carries_its_request_id(client):
    for r in (client.post("/v1/score", json=GOOD), client.post("/v1/score", json={}),
              client.get("/v2/nothing"), client.get("/healthz")):
        rid = r.headers["X-Request-ID"]
        assert len(rid) == 32 and int(rid, 16) >= 0
        if r.status_code != 200 or r.request.path == "/v1/score":
            assert r.get_json(force=True)["request_id"] == rid
    kept = client.post("/v1/score", json=GOOD, headers={"X-Request-ID": "abc.DEF-1:2_3"})
    assert kept.headers["X-Request-ID"] == "abc.DEF-1:2_3"
    replaced = client.post("/v1/score", json=GOOD, headers={"X-Request-ID": "no spaces<>"})
    assert replaced.headers["X-Request-ID"] != "no spaces<>"


def test_request_ids_differ_across_forked_workers():
    """The server forks its workers from one process: each must draw its own ids."""
    import os

    from service.observe import new_request_id

    new_request_id()
    drawn = []
    for _ in range(2):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: one id down the pipe, then out without cleanup
            os.write(write, new_request_id().encode())
            os._exit(0)
        os.close(write)
        drawn.append(os.read(read, 64).decode())
        os.close(read)
        os.waitpid(pid, 0)
    drawn.append(new_request_id())
    assert len(set(drawn)) == 3, drawn


def test_answers_reach_the_server_as_one_piece_of_bytes(app):
    """A list of one bytes object, which granian sends in one write (an iterator it pulls
    through a channel between threads); Flask's own iterable is closed, as WSGI asks."""
    from werkzeug.test import EnvironBuilder

    closed = []
    shortcut = app.wsgi_app.wsgi_app
    flask_app = shortcut.flask_app

    def tracking(environ, start_response):
        body = flask_app(environ, start_response)
        original = body.close
        body.close = lambda: (closed.append(True), original())
        return body

    shortcut.flask_app = tracking

    def call(**kw):
        body = app.wsgi_app(EnvironBuilder(**kw).get_environ(),
                            lambda status, headers, exc_info=None: None)
        assert type(body) is list and len(body) == 1 and isinstance(body[0], bytes)
        return orjson.loads(body[0])

    assert call(method="POST", path="/v1/score", json=GOOD)["results"][0]["campaign_id"] \
        == "svc-1"
    assert call(method="GET", path="/healthz") == {"status": "alive"}
    assert closed == [True]  # Flask answered /healthz; /v1/score took the shortcut


def test_openapi_is_derived_from_the_schema(client):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    campaign = doc["components"]["schemas"]["Campaign"]
    assert list(campaign["properties"]) == list(SCHEMA.names)
    assert campaign["required"] == list(SCHEMA.required)
    assert campaign["properties"]["marketplace"]["enum"][:-1] == list(
        SCHEMA["marketplace"].categories)
    assert set(doc["paths"]["/v1/score"]["post"]["responses"]) == {
        "200", "400", "401", "413", "415", "422", "500", "503"}
    assert client.get("/docs").status_code == 200


def test_an_unexpected_error_is_a_500_problem_not_a_400(app, monkeypatch):
    holder = app.extensions["riskmodel.holder"]

    class Broken:
        version = "x"

        def score(self, *a, **k):
            raise RuntimeError("boom")

    monkeypatch.setattr(holder, "current", lambda: Broken())
    r = app.test_client().post("/v1/score", json=GOOD)
    body = _problem(r, 500)
    assert "boom" not in body["detail"]


def test_problem_types_resolve(client):
    r = client.post("/v1/score", data="{", content_type="application/json")
    kind = r.get_json()["type"]
    described = client.get(kind)
    assert described.status_code == 200 and described.get_json()["description"]
    _problem(client.get("/problems/no-such-thing"), 404)


HEAVY = ("sklearn", "scipy", "pandas", "matplotlib")
# time zones: pytz has Babel look the machine's zone up among all ~600 zone files (20 ms of
# every start); Babel's catalog loader (babel.support) is not needed beside Python's gettext
UNUSED = ("pytz", "flask_babel", "babel.support")


def test_serving_imports_no_fitting_or_frame_library(trained, tmp_path):
    """A fresh interpreter creates the app and scores one campaign: scikit-learn, scipy,
    pandas and matplotlib stay unloaded (they cost seconds of start-up), and nothing of
    time zones or Flask-Babel is loaded."""
    import json
    import subprocess
    import sys

    root, _ = trained
    code = f"""
import json, sys
from service import create_app
client = create_app({{"artifacts": {str(root)!r}}}).test_client()
r = client.post("/v1/score", json={{"campaign_id": "c1", "marketplace": "US",
    "category": "home", "campaign_type": "deal_of_the_day", "duration_days": 7,
    "goal_alignment_score": 0.5, "material_delay_days": 5, "resource_value_usd": 20000,
    "committed_ad_budget_usd": 4000}})
assert r.status_code == 200, r.get_data(as_text=True)
assert client.get("/readyz").status_code == 200
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}
                        or m in {UNUSED!r} or m.split(".")[0] in {UNUSED!r})))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ,
                                          "RISKMODEL_DATA_DIR": str(tmp_path)})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
