"""POST /v1/outcomes: what happened to campaigns, for retraining. Needs an API key."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from riskmodel import (
    MAX_ERRORS,
    N_,
    ErrorList,
    OutcomeConflict,
    UnknownCampaign,
    parse_outcome,
)
from service.auth import require_key
from service.bodies import items, json_body
from service.i18n import locale_of
from service.observe import request_id
from service.problems import Problem, invalid
from service.serialize import dumps

bp = Blueprint("outcomes", __name__)

@bp.post("/v1/outcomes")
@require_key
def record() -> Response:
    """Record one outcome or {"outcomes": [...]}, all or nothing."""
    settings = current_app.extensions["riskmodel.settings"]
    body, _ = json_body(request.environ, settings.max_body_bytes)
    outcomes, pointer = items(body, "outcomes", "outcome", settings.max_campaigns)
    parsed, errors = [], ErrorList()
    for i, item in enumerate(outcomes):
        out, errs = parse_outcome(item, i + 1)
        parsed.append(out)
        errors.add_all(errs)
    if errors:
        raise invalid(N_("Invalid outcome"), errors, errors.more, pointer,
                      locale=locale_of(request.environ))
    store = current_app.extensions["riskmodel.store"]()
    try:
        results = store.record_outcomes(parsed)
    except OutcomeConflict as e:
        # the first conflicts, as errors are listed: the answer stays small
        extra: dict = {"conflicts": e.conflicts[:MAX_ERRORS]}
        if len(e.conflicts) > MAX_ERRORS:
            extra["conflicts_omitted"] = len(e.conflicts) - MAX_ERRORS
        raise Problem(409, "outcome-conflict", N_("Conflict"), str(e), extra=extra) from None
    except UnknownCampaign as e:
        # 409, not 422: the body is valid (the OpenAPI document cannot and does not require
        # a plan); what it lacks depends on the store's state, as a conflict does
        raise Problem(409, "unknown-campaign", N_("Unknown campaign"), str(e),
                      [{"row": None, "column": "plan", "problem": "is required",
                        "allowed": "the campaign's plan, as scored", "received": None,
                        "message": str(e), "pointer": "/plan"}],
                      extra={"campaign_ids": e.ids[:MAX_ERRORS]}) from None
    return Response(dumps({"request_id": request_id(), "results": results}),
                    mimetype="application/json")
