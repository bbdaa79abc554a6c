"""POST /v1/score answered past Flask (service/shortcut.py) is answered exactly as the Flask
route answers it: the same status line, headers and body, byte for byte, for every kind of
request, good or bad."""

import gzip
import json

import pytest
from werkzeug.test import EnvironBuilder

from service import create_app
from service.observe import REQUEST_ID_KEY

GOOD = {"campaign_id": "short-1", "marketplace": "US", "category": "home",
        "campaign_type": "lightning_deal", "duration_days": 1, "goal_alignment_score": 0.5,
        "mou_signed": False, "material_delay_days": 8, "resource_value_usd": 20000,
        "committed_ad_budget_usd": 3000, "attribution_enabled": False}
KEY = "short-key"


def _both(app, **request) -> list[tuple[str, list, bytes]]:
    """The answer of the shortcut, and of the Flask app it stands in front of."""
    shortcut = app.wsgi_app.wsgi_app
    answers = []
    for wsgi in (shortcut, shortcut.flask_app):
        environ = EnvironBuilder(**{"method": "POST", "path": "/v1/score", **request}
                                 ).get_environ()
        environ[REQUEST_ID_KEY] = "fixed-request-id"  # set by the middleware before both
        got: dict = {}

        def start(status, headers, exc_info=None, got=got):
            got.update(status=status, headers=list(headers))

        body = wsgi(environ, start)
        try:
            data = b"".join(body)
        finally:
            getattr(body, "close", lambda: None)()
        answers.append((got["status"], got["headers"], data))
    return answers


CASES = {
    "one-campaign": {"json": GOOD},
    "batch": {"json": {"campaigns": [GOOD, dict(GOOD, campaign_id="b", duration_days=3)]}},
    "top-k-6": {"path": "/v1/score?top_k=6", "json": GOOD},
    "top-k-0": {"path": "/v1/score?top_k=0", "json": GOOD},
    "top-k-twice": {"path": "/v1/score?top_k=1&top_k=2", "json": GOOD},
    "top-k-word": {"path": "/v1/score?top_k=many", "json": GOOD},
    "top-k-too-big": {"path": "/v1/score?top_k=999", "json": GOOD},
    "other-query": {"path": "/v1/score?x=1", "json": GOOD},
    "nan": {"data": '{"campaign_id": "x", "goal_alignment_score": NaN}',
            "content_type": "application/json"},
    "unknown-fields": {"json": dict(GOOD, colour="red")},
    "invalid-values": {"json": dict(GOOD, marketplace="Atlantis", duration_days="two")},
    "batch-error": {"json": {"campaigns": [GOOD, dict(GOOD, mou_signed="perhaps")]}},
    "array": {"json": [GOOD]},
    "empty-batch": {"json": {"campaigns": []}},
    "too-many": {"json": {"campaigns": [GOOD] * 3}},
    "malformed-json": {"data": "{not json", "content_type": "application/json"},
    "not-utf8": {"data": b'{"campaign_id": "\xff"}', "content_type": "application/json"},
    "text-plain": {"data": "campaign_id=x", "content_type": "text/plain"},
    "no-content-type": {"data": json.dumps(GOOD)},
    "suffix-json-type": {"data": json.dumps(GOOD), "content_type": "application/merge+json"},
    "over-the-limit": {"json": dict(GOOD, pad="y" * 5000)},
    "duplicate-name": {"data": '{"campaign_id": "a", "campaign_id": "b"}',
                       "content_type": "application/json"},
    "gzip": {"data": gzip.compress(json.dumps(GOOD).encode()), "content_type": "application/json",
             "headers": {"Content-Encoding": "gzip"}},
    "gzip-bomb": {"data": gzip.compress(b" " * 100_000), "content_type": "application/json",
                  "headers": {"Content-Encoding": "gzip"}},
    "brotli": {"data": b"{}", "content_type": "application/json",
               "headers": {"Content-Encoding": "br"}},
    "empty-string-for-a-boolean": {"json": dict(GOOD, mou_signed="")},
    "too-many-keys": {"json": {f"k{i}": 0 for i in range(150)}},
    "errors-past-the-cap": {"json": {"campaigns": [dict(GOOD, **{f"u{i}": 1 for i in range(15)})]
                                     * 2}},
    "long-value": {"json": dict(GOOD, campaign_id="\U0001f600" * 700)},
    "cut-short": {"data": json.dumps(GOOD), "content_type": "application/json",
                  "environ_overrides": {"CONTENT_LENGTH": "3999"}},
    # in Chinese (docs/i18n.md): chosen by header or query, good requests and bad
    "zh-header": {"json": GOOD, "headers": {"Accept-Language": "zh-CN,zh;q=0.9"}},
    "zh-query": {"path": "/v1/score?lang=zh-CN&top_k=6", "json": GOOD},
    "zh-invalid": {"json": dict(GOOD, marketplace="Atlantis", colour="red"),
                   "headers": {"Accept-Language": "zh-CN"}},
    "zh-top-k": {"path": "/v1/score?top_k=99&lang=zh", "json": GOOD},
    "zh-malformed-json": {"data": "{not json", "content_type": "application/json",
                          "headers": {"Accept-Language": "zh-CN"}},
    "zh-too-many": {"json": {"campaigns": [GOOD] * 3}, "headers": {"Accept-Language": "zh"}},
    "bad-language": {"json": GOOD, "headers": {"Accept-Language": ";;;q=x,,zh-TW"}},
}


@pytest.fixture(scope="module")
def app(trained):
    root, _ = trained
    return create_app({"artifacts": str(root), "reload_interval": 3600.0, "max_campaigns": 2,
                       "max_body_bytes": 4000, "log_predictions": False})


@pytest.mark.parametrize("case", list(CASES))
def test_the_shortcut_answers_as_flask_does(app, case):
    shortcut, flask = _both(app, **CASES[case])
    assert shortcut == flask
    assert shortcut[0][:3] in ("200", "400", "413", "415", "422"), shortcut[0]


@pytest.mark.parametrize("headers,status", [
    ({}, "401"), ({"X-API-Key": "wrong"}, "401"), ({"X-API-Key": KEY}, "200"),
    ({"Authorization": f"Bearer {KEY}"}, "200"),
], ids=["no-key", "wrong-key", "x-api-key", "bearer"])
def test_with_a_key_required_too(trained, headers, status):
    root, _ = trained
    app = create_app({"artifacts": str(root), "api_keys": KEY, "scoring_requires_key": True,
                      "log_predictions": False})
    shortcut, flask = _both(app, json=GOOD, headers=headers)
    assert shortcut == flask
    assert shortcut[0][:3] == status


def test_without_a_model_too(tmp_path):
    app = create_app({"artifacts": str(tmp_path), "log_predictions": False})
    shortcut, flask = _both(app, json=GOOD)
    assert shortcut == flask and shortcut[0].startswith("503")


def test_an_unexpected_error_too(app, monkeypatch):
    holder = app.extensions["riskmodel.holder"]

    class Broken:
        version = "x"

        def score(self, *a, **k):
            raise RuntimeError("boom")

    monkeypatch.setattr(holder, "current", lambda: Broken())
    shortcut, flask = _both(app, json=GOOD)
    assert shortcut == flask and shortcut[0].startswith("500")
    assert b"boom" not in shortcut[2]


def test_only_post_to_the_exact_route_takes_the_shortcut(app):
    """Anything else is Flask's: 405 with Allow for other methods, 404 for other paths."""
    client = app.test_client()
    assert client.get("/v1/score").status_code == 405
    assert client.get("/v1/score").headers["Allow"]
    assert client.post("/v1/score/", json=GOOD).status_code in (308, 404)
    assert client.post("/v1/score", json=GOOD).status_code == 200
