"""POST /v1/outcomes: what happened to campaigns, for retraining. Needs an API key."""

from __future__ import annotations

import json
from collections.abc import Mapping

from flask import Blueprint, Response, current_app, g, request

from riskmodel import SchemaError
from riskmodel.store import OutcomeConflict, UnknownCampaign
from riskmodel.validation import parse_outcome
from service.auth import require_key
from service.problems import Problem, field_errors
from service.serialize import dumps

bp = Blueprint("outcomes", __name__)

@bp.post("/v1/outcomes")
@require_key
def record() -> Response:
    """Record one outcome or {"outcomes": [...]}, all or nothing."""
    if request.mimetype != "application/json":
        raise Problem(415, "unsupported-media-type", "Unsupported Media Type",
                      f"the body must be application/json; got {request.mimetype!r}")
    try:
        body = json.loads(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError) as e:
        raise Problem(400, "invalid-json", "Invalid JSON", f"the body is not valid JSON: "
                                                           f"{e}") from None
    batch = isinstance(body, Mapping) and "outcomes" in body
    items = body["outcomes"] if batch else [body]
    limit = current_app.extensions["riskmodel.settings"].max_campaigns
    if not isinstance(items, list) or not items or (batch and len(body) != 1):
        raise Problem(422, "invalid-campaign", "Invalid request",
                      "the body must be an outcome object or {\"outcomes\": [...]}", [])
    if len(items) > limit:
        raise Problem(422, "too-many-campaigns", "Too many outcomes",
                      f"at most {limit} outcomes per request; got {len(items)}", [])
    parsed, errors = [], []
    for i, item in enumerate(items):
        out, errs = parse_outcome(item, i + 1)
        parsed.append(out)
        errors += errs
    if errors:
        raise Problem(422, "invalid-campaign", "Invalid outcome",
                      f"{len(errors)} input problem(s); the first: {errors[0].message}",
                      field_errors(SchemaError(errors), "/outcomes" if batch else ""))
    store = current_app.extensions["riskmodel.store"]()
    try:
        results = store.record_outcomes(parsed)
    except OutcomeConflict as e:
        raise Problem(409, "outcome-conflict", "Conflict", str(e),
                      extra={"conflicts": e.conflicts}) from None
    except UnknownCampaign as e:
        raise Problem(422, "unknown-campaign", "Unknown campaign", str(e),
                      [{"row": None, "column": "plan", "problem": "is required",
                        "allowed": "the campaign's plan, as scored", "received": None,
                        "message": str(e), "pointer": "/plan"}]) from None
    return Response(dumps({"request_id": g.request_id, "results": results}),
                    mimetype="application/json")
