"""GET /v1/monitoring: drift, realized performance and the verdict (docs/monitoring.md).
Needs an API key. Also refreshes the monitoring gauges before a /metrics scrape."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Blueprint, Response, current_app, request

from riskmodel import N_, FieldError, RiskModelError
from service.auth import require_key
from service.i18n import locale_of
from service.problems import Problem
from service.serialize import dumps

bp = Blueprint("monitoring", __name__)


def _day(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:  # an empty value is not a date (422), as the OpenAPI document says
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        error = FieldError(None, name, N_("is not a date"), "YYYY-MM-DD (UTC day)", raw)
        locale = locale_of(request.environ)
        raise Problem(422, "invalid-parameter", N_("Invalid parameter"), N_("{message}"),
                      [dict(error.to_dict(locale), pointer=f"?{name}")],
                      args={"message": error.message_in(locale)}) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@bp.get("/v1/monitoring")
@require_key
def monitoring() -> Response:
    """The same JSON as `riskmodel monitor --json`; ?since= and ?until= as its options."""
    # monitoring's statistics (pandas, scipy) load with the first call, not with the app
    from riskmodel import EmptyWindow, ReferenceMissing

    since, until = _day("since"), _day("until")
    if since is not None and until is not None and until <= since:
        raise Problem(422, "invalid-parameter", N_("Invalid parameter"),
                      N_("until ({until}) must be after since ({since})"),
                      args={"until": until.date(), "since": since.date()})
    try:
        result = current_app.extensions["riskmodel.monitoring"].result(since, until)
    except LookupError as e:
        raise Problem(503, "model-unavailable", N_("Model unavailable"), str(e)) from None
    except EmptyWindow:
        raise _cannot(N_("No campaign was scored in the window asked for: there is nothing "
                         "to monitor yet. Widen the window (since, until).")) from None
    except ReferenceMissing as e:
        raise _cannot(N_("The serving model version has no reference statistics it can be "
                         "compared with (it was trained before monitoring kept them): "
                         "retrain it to monitor it."), e) from None
    except RiskModelError as e:  # none of the window's plans valid now, and the like
        if isinstance(e, OSError):  # the store: StoreUnavailable, answered as elsewhere
            raise
        raise _cannot(N_("The campaigns scored in the window cannot be compared with the "
                         "model's reference statistics (see reason)."), e) from None
    return Response(dumps(result), mimetype="application/json")


def _cannot(detail: str, error: Exception | None = None) -> Problem:
    """A 409 ``cannot-monitor`` whose detail is a text of the catalog (said in the
    request's language); the core's own words, English, ride along as ``reason``."""
    return Problem(409, "cannot-monitor", N_("Cannot monitor"), detail,
                   extra=None if error is None else {"reason": str(error)})


@bp.before_app_request
def _before_scrape() -> None:
    if request.path == "/metrics":
        current_app.extensions["riskmodel.monitoring"].refresh_gauges_soon()
