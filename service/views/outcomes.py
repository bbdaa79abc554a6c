"""POST /v1/outcomes: what happened to campaigns, for retraining. Needs an API key."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from riskmodel import OutcomeConflict, SchemaError, UnknownCampaign, parse_outcome
from service.auth import require_key
from service.bodies import items, json_body
from service.observe import request_id
from service.problems import Problem, field_errors
from service.serialize import dumps

bp = Blueprint("outcomes", __name__)

@bp.post("/v1/outcomes")
@require_key
def record() -> Response:
    """Record one outcome or {"outcomes": [...]}, all or nothing."""
    settings = current_app.extensions["riskmodel.settings"]
    body, _ = json_body(request.environ, settings.max_body_bytes)
    outcomes, pointer = items(body, "outcomes", "outcome", settings.max_campaigns)
    parsed, errors = [], []
    for i, item in enumerate(outcomes):
        out, errs = parse_outcome(item, i + 1)
        parsed.append(out)
        errors += errs
    if errors:
        raise Problem(422, "invalid-campaign", "Invalid outcome",
                      f"{len(errors)} input problem(s); the first: {errors[0].message}",
                      field_errors(SchemaError(errors), pointer))
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
    return Response(dumps({"request_id": request_id(), "results": results}),
                    mimetype="application/json")
