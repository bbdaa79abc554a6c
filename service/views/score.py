"""POST /v1/score: the endpoint planners call before launch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

from flask import Blueprint, Response, current_app, request
from werkzeug.wrappers import Request

from riskmodel import (
    CAMPAIGN_ALLOWED,
    CAMPAIGN_FIELDS,
    MAX_ERRORS,
    MAX_FIELDS,
    N_,
    ErrorList,
    ParameterError,
    SchemaError,
    check_fields,
)
from service.auth import check_key
from service.bodies import items, json_body
from service.i18n import locale_of
from service.observe import MODEL_VERSION_KEY, REQUEST_ID_KEY
from service.problems import Problem, invalid
from service.serialize import dumps

bp = Blueprint("score", __name__)



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


def _unknown_fields(campaigns: list) -> tuple[ErrorList | None, bool]:
    """The first errors for fields the contract does not have (the rest counted; None
    when there are none), and whether a campaign has so many fields that it is refused
    before scoring."""
    errors, too_many = None, False
    for i, c in enumerate(campaigns):
        if isinstance(c, Mapping) and (len(c) > MAX_FIELDS
                                       or not CAMPAIGN_FIELDS.issuperset(c)):
            if errors is None:
                errors = ErrorList()
            too_many |= check_fields(c, CAMPAIGN_FIELDS, CAMPAIGN_ALLOWED, i + 1, errors)
    return errors, too_many


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
    metrics = extensions["riskmodel.metrics"]
    errors, too_many = _unknown_fields(campaigns)
    if too_many and errors is not None:  # refused before any value is judged
        _reject(errors, metrics, pointer, locale)
    try:  # one campaign takes the scorer's plain-Python path
        results = scorer.score(campaigns if pointer else campaigns[0], top_k, strict=True,
                               locale=locale, max_errors=MAX_ERRORS)
    except SchemaError as e:
        errors = errors if errors is not None else ErrorList()
        errors.add_all(e.errors)
        errors.more += e.more
        _reject(errors, metrics, pointer, locale)
    if errors:
        _reject(errors, metrics, pointer, locale)
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


def _reject(errors: ErrorList, metrics, pointer: str, locale: str) -> NoReturn:
    """422 with the first :data:`riskmodel.MAX_ERRORS` errors by row, counting the rest
    (the words in ``locale``)."""
    # both lists were cut at MAX_ERRORS, each in row order: the first by row are among them
    shown = sorted(errors, key=lambda e: (e.row or 0))
    more = errors.more + max(0, len(shown) - MAX_ERRORS)
    shown = shown[:MAX_ERRORS]
    for err in shown:
        metrics.rejections.labels(
            field=err.column if err.column in CAMPAIGN_FIELDS else "(unknown)").inc()
    if more:
        metrics.rejections.labels(field="(not listed)").inc(more)
    raise invalid(N_("Invalid campaign"), shown, more, pointer, locale=locale)
