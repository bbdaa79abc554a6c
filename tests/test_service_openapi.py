"""API fuzzing: schemathesis generates requests from our own /openapi.json, in-process.

Every response must be documented (status, content type, body schema) and none may be a
server error, whatever the client sends: valid campaigns, wrong types, unknown fields,
NaN, out-of-range numbers, wrong shapes.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from service import create_app


@pytest.fixture(scope="module")
def api_schema(trained):
    root, _ = trained
    app = create_app({"artifacts": str(root), "reload_interval": 3600.0, "max_campaigns": 20})
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_no_server_error_and_no_undocumented_response(case):
    case.call_and_validate()
