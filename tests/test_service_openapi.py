"""API fuzzing: schemathesis generates requests from our own /openapi.json, in-process.

Every check schemathesis has runs (its default, named here so that none is dropped
quietly), on data valid by the document and on data that breaks it: every response must
be documented (status, content type, headers, body schema), none may be a server error,
data the document allows must be accepted (2xx, or a documented refusal for the server's
state: 401, 409...) and data it forbids refused. POST /v1/outcomes is called with a valid
key, so its bodies reach validation and the store.
"""

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from service import create_app

KEY = "fuzz-key"

load_all_checks()
ALL_CHECKS = [c for c in CHECKS.get_all() if not isinstance(c, type)]


@pytest.fixture(scope="module")
def api_schema(trained, tmp_path_factory):
    root, _ = trained
    app = create_app({"artifacts": str(root), "reload_interval": 3600.0, "max_campaigns": 20,
                      "api_keys": KEY, "data_dir": str(tmp_path_factory.mktemp("fuzz"))})
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


def test_every_check_is_run():
    names = {c.__name__ for c in ALL_CHECKS}
    assert {"not_a_server_error", "positive_data_acceptance", "negative_data_rejection",
            "response_schema_conformance", "status_code_conformance",
            "content_type_conformance", "ignored_auth", "unsupported_method"} <= names


@pytest.mark.parametrize("value", [" ", "   ", "a", " a ", "\t", "a\x85", "x" * 128,
                                   "x" * 129])
def test_the_documents_campaign_id_rule_is_the_services(client, value):
    """A blank campaign_id (all spaces) is empty, so refused as missing: the document's
    pattern let it through, and schemathesis found a valid-by-the-document body refused
    (the flaky failure on POST /v1/score)."""
    rule = client.get("/openapi.json").get_json()["components"]["schemas"]["Campaign"][
        "properties"]["campaign_id"]
    documented = (re.fullmatch(rule["pattern"], value) is not None
                  and rule["minLength"] <= len(value) <= rule["maxLength"])
    r = client.post("/v1/score", json={"campaign_id": value})
    accepted = "campaign_id" not in {e["column"] for e in r.get_json().get("errors", [])}
    assert documented == accepted


@schema.parametrize()
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_no_server_error_and_no_undocumented_response(case):
    _plans_carry_their_outcomes_id(case)
    _windows_end_after_they_start(case)
    case.call_and_validate(headers={"X-API-Key": KEY}, checks=ALL_CHECKS)


def _plans_carry_their_outcomes_id(case) -> None:
    """A rule the document states in words, as JSON Schema cannot: a plan's campaign_id is
    its outcome's. Valid outcomes generated from the schema are made to keep it."""
    if case.path != "/v1/outcomes" or not case.meta.generation.mode.is_positive:
        return
    body = case.body
    items = body.get("outcomes", [body]) if isinstance(body, dict) else []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("plan"), dict):
            item["plan"]["campaign_id"] = item.get("campaign_id")


def _windows_end_after_they_start(case) -> None:
    """Another rule stated in words: a monitoring window's ``until`` is after its
    ``since`` (ISO dates, so their order is the strings' order). Valid windows generated
    from the schema are made to keep it; an inverted one is the service's 422."""
    if case.path != "/v1/monitoring" or not case.meta.generation.mode.is_positive:
        return
    query = case.query or {}
    since, until = query.get("since"), query.get("until")
    if isinstance(since, str) and isinstance(until, str) and until <= since:
        del query["until"]
