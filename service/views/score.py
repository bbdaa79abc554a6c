"""POST /v1/score: the endpoint planners call before launch."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, Response, current_app, request
from werkzeug.wrappers import Request

from riskmodel import N_, SCHEMA, FieldError, ParameterError, SchemaError
from service.auth import check_key
from service.bodies import items, json_body
from service.i18n import locale_of
from service.observe import MODEL_VERSION_KEY, REQUEST_ID_KEY
from service.problems import Problem, field_errors
from service.serialize import dumps

bp = Blueprint("score", __name__)

_KNOWN = frozenset(SCHEMA.names)


def _top_k(environ: dict, settings, scorer) -> int:
    """``?top_k=``, else the configured default, checked against the model's factors."""
    raw = Request(environ, populate_request=False, shallow=True).args.get("top_k") \
        if environ.get("QUERY_STRING") else None
    try:
        return scorer.check_top_k(settings.default_top_k if raw is None else raw)
    except ParameterError as e:
        locale = locale_of(environ)
        raise Problem(422, "invalid-parameter", N_("Invalid parameter"), N_("{message}"),
                      [dict(e.error.to_dict(locale), pointer="?top_k")],
                      args={"message": e.error.message_in(locale)}) from None


def _unknown_fields(campaigns: list) -> list[FieldError]:
    out = []
    for i, c in enumerate(campaigns):
        if isinstance(c, Mapping) and not _KNOWN.issuperset(c):
            for key in c:
                if key not in _KNOWN:
                    out.append(FieldError(i + 1, str(key), N_("is not a field of the contract"),
                                          "one of " + ", ".join(SCHEMA.names), None))
    return out


@bp.post("/v1/score")
def score() -> Response:
    """Validate, score and explain; answer in the order given. In service this route is
    answered by :class:`service.shortcut.ScoreShortcut`, past Flask's per-request work;
    both call :func:`score_json`."""
    return Response(score_json(request.environ, current_app.extensions),
                    mimetype="application/json")


def score_json(environ: dict, extensions: dict) -> bytes:
    """The answer to ``POST /v1/score`` as JSON bytes; a :class:`Problem` for anything else.

    Takes the WSGI environ and the app's extensions rather than Flask's request and app
    (every ``request.x`` is a context-local lookup, measurable at this endpoint's rate).
    """
    settings = extensions["riskmodel.settings"]
    locale = locale_of(environ)
    if settings.scoring_requires_key:
        check_key(environ, extensions["riskmodel.api_keys"])
    body, text = json_body(environ, settings.max_body_bytes)
    campaigns, pointer = items(body, "campaigns", "campaign", settings.max_campaigns)
    holder = extensions["riskmodel.holder"]
    scorer = holder.current()
    if scorer is None:
        raise Problem(503, "model-unavailable", N_("Model unavailable"), holder.unready_reason)
    top_k = _top_k(environ, settings, scorer)
    try:  # one campaign takes the scorer's plain-Python path
        results = scorer.score(campaigns if pointer else campaigns[0], top_k, strict=True,
                               locale=locale)
        invalid = []
    except SchemaError as e:
        results, invalid = None, e.errors
    errors = _unknown_fields(campaigns) + invalid
    metrics = extensions["riskmodel.metrics"]
    if errors:
        for err in errors:
            metrics.rejections.labels(
                field=err.column if err.column in _KNOWN else "(unknown)").inc()
        errors.sort(key=lambda e: (e.row or 0))
        detail = N_("1 input problem; the first: {first}") if len(errors) == 1 else \
            N_("{n} input problems; the first: {first}")
        raise Problem(422, "invalid-campaign", N_("Invalid campaign"), detail,
                      field_errors(SchemaError(errors), pointer, locale),
                      args={"n": len(errors), "first": errors[0].message_in(locale)})
    version = scorer.version
    environ[MODEL_VERSION_KEY] = version
    request_id = environ[REQUEST_ID_KEY]
    for r in results:
        metrics.child(metrics.scores, r.risk_band, version).inc()
    predlog = extensions["riskmodel.predlog"]
    if predlog is not None:
        # one campaign is logged as the text it came in: until the next write the queue
        # holds one string per request, not the parsed plan's two dozen objects. Measured
        # under gunicorn (worker CPU per request, log on against off), the log's cost fell
        # from about 110 to about 50 microseconds a request.
        plans = [text] if text is not None and not pointer else campaigns
        predlog.add([{"campaign_id": r.campaign_id, "model_version": version,
                      "failure_risk": r.failure_risk, "risk_band": r.risk_band,
                      "inputs": c, "source": "api", "request_id": request_id}
                     for r, c in zip(results, plans, strict=True)])
    return dumps({"request_id": request_id, "model_version": version, "results": results})
