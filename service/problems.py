"""The one place errors become HTTP responses: RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from riskmodel import (
    MAX_ERRORS,
    N_,
    FieldError,
    SchemaError,
    StoreUnavailable,
    format_number,
)
from service.i18n import gettext_in, locale_of
from service.observe import request_id

log = logging.getLogger("riskmodel.service")

PROBLEM_TYPES = {
    "invalid-campaign": "The campaigns break the data contract; see errors.",
    "too-many-campaigns": "More campaigns than one request may carry.",
    "invalid-json": "The body is not valid JSON.",
    "duplicate-name": "An object of the body names a member twice (RFC 8259 leaves the "
                      "meaning undefined; parsers differ): refused rather than guessed.",
    "invalid-encoding": "The body is declared gzip-encoded (Content-Encoding) but is not "
                        "valid gzip.",
    "unsupported-content-encoding": "The body has a Content-Encoding other than gzip or "
                                    "identity; Accept-Encoding names those taken.",
    "incomplete-body": "The body ended before its declared length, or could not be decoded "
                       "(a malformed chunked encoding).",
    "unsupported-media-type": "The body must be application/json.",
    "body-too-large": "The body is larger than the configured limit.",
    "model-unavailable": "No verified model is loaded.",
    "invalid-parameter": "A query parameter has a value that cannot be used.",
    "unauthorized": "A missing or wrong API key.",
    "outcome-conflict": "An outcome differs from the one recorded; send it as a correction.",
    "unknown-campaign": "An outcome for a campaign never scored before it was completed, "
                        "sent without its plan (409: the body is valid; the store has no "
                        "plan for it).",
    "store-unavailable": "The outcome store cannot take writes now (unreachable, its file "
                         "vanished, was replaced or is read-only); retry later. Scoring "
                         "still works.",
    "unknown-problem-type": "There is no problem type of that name.",
    "cannot-monitor": "Monitoring has nothing to compare: no campaign was scored in the "
                      "window, or the serving model version has no reference statistics.",
}


class Problem(Exception):
    """An error with its HTTP status, a stable type, and optional field errors.

    ``title`` and ``detail`` are English texts of the service's catalog, translated when
    the problem is answered (docs/i18n.md); a ``detail`` with ``args`` is a template,
    formatted with them in the answer's language."""

    def __init__(self, status: int, kind: str | None, title: str, detail: str,
                 errors: list[dict] | None = None, headers: dict | None = None,
                 extra: dict | None = None, args: dict | None = None) -> None:
        self.template, self.detail_args = detail, args
        if args:
            detail = detail.format(**args)
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.errors, self.headers, self.extra = errors, headers, extra

    def words(self, locale: str) -> tuple[str, str]:
        """The title and detail in ``locale``."""
        if locale == "en":
            return self.title, self.detail
        detail = gettext_in(locale, self.template)
        return gettext_in(locale, self.title), \
            detail.format(**self.detail_args) if self.detail_args else detail


def problem_body(status: int, title: str, detail: str | None, kind: str | None = None,
                 errors: list[dict] | None = None, extra: dict | None = None,
                 request_id: str | None = None) -> str:
    """The JSON text of a problem."""
    body = {"type": f"/problems/{kind}" if kind else "about:blank", "title": title,
            "status": status, "detail": detail, "request_id": request_id, **(extra or {})}
    if errors is not None:
        body["errors"] = errors
    # UTF-8 rather than \u escapes: a character the client sent takes at most 4 bytes
    # here, not 12 (docs/service.md, "Errors"); the escapes only for a lone surrogate,
    # which UTF-8 cannot carry
    text = json.dumps(body, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        text = json.dumps(body)
    return text


def problem_response(status: int, title: str, detail: str | None, kind: str | None = None,
                     errors: list[dict] | None = None, headers: dict | None = None,
                     extra: dict | None = None) -> Response:
    """The answer to a problem, its title and detail in the request's language."""
    locale = locale_of(request.environ)
    if locale != "en":
        title = gettext_in(locale, title)
        detail = detail if detail is None else gettext_in(locale, detail)
    return Response(problem_body(status, title, detail, kind, errors, extra, request_id()),
                    status=status, mimetype="application/problem+json", headers=headers)


def problem_wsgi(e: Problem, request_id: str | None,
                 locale: str = "en") -> tuple[str, list, bytes]:
    """The status line, headers and body of the answer to ``e``, as
    :func:`problem_response` gives them (for a WSGI app without Flask)."""
    title, detail = e.words(locale)
    data = problem_body(e.status, title, detail, e.kind, e.errors, e.extra,
                        request_id).encode()
    headers = [*(e.headers or {}).items(), ("Content-Type", "application/problem+json"),
               ("Content-Length", str(len(data)))]
    return f"{e.status} {HTTP_STATUS_CODES.get(e.status, 'Unknown').upper()}", headers, data


# the answer to an unexpected failure: never disguised as a client error
UNKNOWN = Problem(500, None, N_("Internal Server Error"),
                  N_("The server failed to handle the request; it is logged under this request "
                     "id."))

# werkzeug's names of the HTTP errors it raises itself, for the catalog
HTTP_TITLES = (N_("Not Found"), N_("Method Not Allowed"), N_("Bad Request"),
               N_("Request Entity Too Large"), N_("Unsupported Media Type"))


def field_errors(e: SchemaError, pointer_prefix: str, locale: str = "en") -> list[dict]:
    """Field errors with a JSON pointer into the request body: ``/field`` for a single
    campaign (``pointer_prefix`` empty), ``/campaigns/<index>/field`` in a batch; their
    messages in ``locale``."""
    out = []
    for err in e.errors:
        d = err.to_dict(locale)
        index = "" if err.row is None or not pointer_prefix else f"/{err.row - 1}"
        d["pointer"] = f"{pointer_prefix}{index}/{err.column}"
        out.append(d)
    return out


def invalid(title: str, errors: list[FieldError], more: int, pointer_prefix: str,
            kind: str = "invalid-campaign", locale: str = "en") -> Problem:
    """422 for input that breaks the contract: the errors listed (at most
    :data:`riskmodel.MAX_ERRORS`) and, when more were found, ``errors_omitted`` counting
    them; the detail and the field messages in ``locale``."""
    total = len(errors) + more
    if more:
        detail = N_("{n} input problems ({listed} listed, {more} more not); the first: "
                    "{first}")
    elif total == 1:
        detail = N_("1 input problem; the first: {first}")
    else:
        detail = N_("{n} input problems; the first: {first}")
    return Problem(422, kind, title, detail,
                   field_errors(SchemaError(errors[:MAX_ERRORS]), pointer_prefix, locale),
                   extra={"errors_omitted": more} if more else None,
                   args={"n": format_number(total, locale), "listed": str(len(errors)),
                         "more": str(more), "first": errors[0].message_in(locale)})


def register(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(e: Problem):
        title, detail = e.words(locale_of(request.environ))
        return Response(problem_body(e.status, title, detail, e.kind, e.errors, e.extra,
                                     request_id()),
                        status=e.status, mimetype="application/problem+json",
                        headers=e.headers)

    @app.errorhandler(StoreUnavailable)
    def _store(e: StoreUnavailable):
        log.warning("store unavailable", extra={"request_id": request_id(),
                                                "reason": str(e)})
        return problem_response(503, N_("Store unavailable"),
                                f"{e}; nothing was recorded, retry later", "store-unavailable",
                                headers={"Retry-After": "30"})

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        if e.code == 413:
            return problem_response(413, N_("Body too large"), e.description, "body-too-large")
        # keep the headers HTTP requires, such as Allow on a 405
        headers = {k: v for k, v in e.get_headers() if k.lower() != "content-type"}
        return problem_response(e.code or 500, e.name, e.description, headers=headers)

    @app.errorhandler(Exception)
    def _unknown(e: Exception):
        # never disguised as a client error: a 500 with a generic message, traceback logged
        log.exception("unhandled error", extra={"request_id": request_id()})
        return problem_response(UNKNOWN.status, UNKNOWN.title, UNKNOWN.detail)
