"""POST /v1/outcomes: what happened to campaigns, for retraining. Needs an API key."""

from __future__ import annotations

import json
from collections.abc import Mapping

from flask import Blueprint, Response, current_app, g, request

from riskmodel import SCHEMA, FieldError, SchemaError
from riskmodel.schema import FAILURE_REASONS
from riskmodel.store import OutcomeConflict, UnknownCampaign
from riskmodel.validation import parse_record, validate_record
from service.auth import require_key
from service.problems import Problem, field_errors
from service.serialize import dumps

bp = Blueprint("outcomes", __name__)

_COLUMNS = (SCHEMA["campaign_id"],) + SCHEMA.outcome_columns
_ALLOWED = {c.name for c in _COLUMNS} | {"correction", "plan"}


def parse_outcome(item: object, row: int) -> tuple[dict | None, list[FieldError]]:
    """One outcome from JSON: typed fields, its plan if attached, and every error."""
    values, errors = parse_record(item, _COLUMNS, None, False, row, strict=True)
    if not isinstance(item, Mapping):
        return None, errors
    for key in item:
        if key not in _ALLOWED:
            errors.append(FieldError(row, str(key), "is not a field of an outcome",
                                     "one of " + ", ".join(sorted(_ALLOWED)), None))
    correction = item.get("correction", False)
    if not isinstance(correction, bool):
        errors.append(FieldError(row, "correction", "must be true or false",
                                 "true or false", correction))
    reason = values.get("failure_reason")
    reason = None if reason is None or reason < 0 else FAILURE_REASONS[reason]
    if values.get("failed") == 0.0 and reason is not None:
        errors.append(FieldError(row, "failure_reason", "must be empty for a success",
                                 "empty when failed is false", reason))
    plan = item.get("plan")
    if plan is not None:
        if not isinstance(plan, Mapping):
            errors.append(FieldError(row, "plan", "is not an object", "a campaign object",
                                     type(plan).__name__))
        else:
            _, plan_errors = validate_record(plan, strict=True)
            errors += [FieldError(row, f"plan/{e.column}", e.problem, e.allowed, e.received)
                       for e in plan_errors]
            if plan.get("campaign_id") not in (None, item.get("campaign_id")):
                errors.append(FieldError(row, "plan/campaign_id", "differs from the outcome's",
                                         str(item.get("campaign_id")), plan.get("campaign_id")))
    if errors:
        return None, errors
    completed = values.get("completed_on")
    out = {"campaign_id": values["campaign_id"], "failed": bool(values["failed"]),
           "failure_reason": reason,
           "completed_on": None if completed is None else completed.date().isoformat(),
           "correction": correction}
    if plan is not None:
        out["plan"] = dict(plan, campaign_id=values["campaign_id"])
    return out, []


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
