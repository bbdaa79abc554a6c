"""Answers about bad input stay small whatever the body (service/problems.py and the views
that use it): at most MAX_ERRORS field errors listed and the rest counted, received values
and unknown names cut short, objects with absurd key counts refused whole. No error answer
may pass 64 KB for a body within the body limit (issue 13, finding 1)."""

import json

import pytest

from riskmodel import MAX_ERRORS, MAX_FIELDS, MAX_SHOWN
from service import create_app

KEY = "problems-key"
LIMIT = 64 * 1024
GOOD = {"campaign_id": "p-1", "marketplace": "US", "category": "home",
        "campaign_type": "lightning_deal", "duration_days": 1, "goal_alignment_score": 0.5,
        "material_delay_days": 8, "resource_value_usd": 20000, "committed_ad_budget_usd": 3000}
EMOJI = "\U0001f600"  # escaped as 12 bytes in JSON: the longest a character can get


@pytest.fixture(scope="module")
def client(trained, tmp_path_factory):
    root, _ = trained
    app = create_app({"artifacts": str(root), "reload_interval": 3600.0, "api_keys": KEY,
                      "log_predictions": False,
                      "data_dir": str(tmp_path_factory.mktemp("problems"))})
    return app.test_client()


def _base36(i: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        i, d = divmod(i, 36)
        out = digits[d] + out
        if not i:
            return "k" + out


def _unknown(n: int, name=_base36) -> dict:
    return {name(i): 0 for i in range(n)}


def _bodies() -> dict[str, tuple[str, object]]:
    """Bodies within the 2 MiB limit, each built to make the answer as large as it can."""
    invalid_everything = {c: [[1] * 10] * 10 for c in GOOD} | {"campaign_id": "\x00" * 200}
    long_keys = _unknown(MAX_FIELDS - len(GOOD), lambda i: f"{i:03}" + EMOJI * 200) | GOOD
    return {
        # the cases: 206,991 unknown keys; a batch with unknown keys; 1.9 MB id
        "200k-unknown-keys": ("/v1/score", _unknown(200_000)),
        "batch-of-unknown-keys": ("/v1/score", {"campaigns": [
            dict(GOOD, **_unknown(50)) for _ in range(1000)]}),
        "1.9-MB-campaign-id": ("/v1/score", dict(GOOD, campaign_id="x" * 1_900_000)),
        "1.9-MB-category": ("/v1/score", dict(GOOD, category=EMOJI * 450_000)),
        "unknown-keys-of-emoji": ("/v1/score", long_keys),
        "batch-of-long-unknown-keys": ("/v1/score", {"campaigns": [long_keys] * 20}),
        "every-value-wrong": ("/v1/score", {"campaigns": [invalid_everything] * 100}),
        "huge-integers": ("/v1/score", {c: int("9" * 4000) for c in GOOD}),
        "extra-top-level-keys": ("/v1/score", {"campaigns": [GOOD], **_unknown(150_000)}),
        "outcome-unknown-keys": ("/v1/outcomes", _unknown(200_000) | {"failed": True}),
        "outcomes-batch": ("/v1/outcomes", {"outcomes": [
            {"campaign_id": EMOJI * 200, "failed": "x", "plan": long_keys}] * 20}),
        "plan-unknown-keys": ("/v1/outcomes", {"campaign_id": "p", "failed": True,
                                               "plan": _unknown(200_000)}),
    }


BODIES = _bodies()


@pytest.mark.parametrize("name", list(BODIES))
def test_no_error_answer_passes_64_kb(client, name):
    path, body = BODIES[name]
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    assert len(data) <= 2 * 1024 * 1024, "the body must be within the limit to count"
    r = client.post(path, data=data, content_type="application/json",
                    headers={"X-API-Key": KEY})
    assert r.status_code == 422, r.get_data()[:300]
    assert len(r.get_data()) < LIMIT, len(r.get_data())
    problem = r.get_json()
    assert len(problem["errors"]) <= MAX_ERRORS


def test_errors_past_the_cap_are_counted_not_listed(client):
    body = {"campaigns": [dict(GOOD, **_unknown(50)) for _ in range(1000)]}
    problem = client.post("/v1/score", json=body).get_json()
    assert len(problem["errors"]) == MAX_ERRORS
    assert problem["errors_omitted"] == 50 * 1000 - MAX_ERRORS
    assert problem["detail"].startswith(f"50,000 input problems ({MAX_ERRORS} listed, "
                                        f"{50 * 1000 - MAX_ERRORS} more not); the first:")
    # the first by row, in the order of the body
    assert [e["pointer"] for e in problem["errors"][:2]] == ["/campaigns/0/k0",
                                                             "/campaigns/0/k1"]


def test_a_few_errors_are_all_listed_without_a_count(client):
    problem = client.post("/v1/score", json=dict(GOOD, colour=1, duration_days=0)).get_json()
    assert len(problem["errors"]) == 2 and "errors_omitted" not in problem


def test_a_long_value_is_cut_and_said_so(client):
    problem = client.post("/v1/score", json=dict(GOOD, campaign_id="x" * 1_900_000)
                          ).get_json()
    [error] = problem["errors"]
    assert error["received"] == "x" * MAX_SHOWN + "…"
    assert error["received_length"] == 1_900_000
    assert "(1,900,000 characters, the first 64 shown)" in error["message"]
    assert error["message"] in problem["detail"]


def test_an_object_with_too_many_keys_is_refused_whole(client):
    problem = client.post("/v1/score", json=_unknown(MAX_FIELDS + 1)).get_json()
    [error] = problem["errors"]
    assert error["column"] == "(record)" and error["pointer"] == "/(record)"
    assert error["problem"] == f"has {MAX_FIELDS + 1} fields"
    assert error["allowed"] == f"at most {MAX_FIELDS} fields (a campaign has 23)"


def test_a_long_unknown_name_is_cut(client):
    problem = client.post("/v1/score", json=dict(GOOD, **{"y" * 5000: 1})).get_json()
    [error] = problem["errors"]
    assert error["column"] == "y" * MAX_SHOWN + "…"
    assert error["pointer"] == "/" + "y" * MAX_SHOWN + "…"


def test_extra_top_level_keys_are_named_a_few(client):
    problem = client.post("/v1/score", json={"campaigns": [GOOD], **_unknown(10)}).get_json()
    assert problem["detail"].startswith("unknown fields k0, k1, k2, k3, k4 and 5 more:")
