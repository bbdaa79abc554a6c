"""The one place errors become HTTP responses: RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from riskmodel import MAX_ERRORS, FieldError, SchemaError, StoreUnavailable
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
    """An error with its HTTP status, a stable type, and optional field errors."""

    def __init__(self, status: int, kind: str | None, title: str, detail: str,
                 errors: list[dict] | None = None, headers: dict | None = None,
                 extra: dict | None = None) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        self.errors, self.headers, self.extra = errors, headers, extra


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
    return Response(problem_body(status, title, detail, kind, errors, extra, request_id()),
                    status=status, mimetype="application/problem+json", headers=headers)


def problem_wsgi(e: Problem, request_id: str | None) -> tuple[str, list, bytes]:
    """The status line, headers and body of the answer to ``e``, as
    :func:`problem_response` gives them (for a WSGI app without Flask)."""
    data = problem_body(e.status, e.title, e.detail, e.kind, e.errors, e.extra,
                        request_id).encode()
    headers = [*(e.headers or {}).items(), ("Content-Type", "application/problem+json"),
               ("Content-Length", str(len(data)))]
    return f"{e.status} {HTTP_STATUS_CODES.get(e.status, 'Unknown').upper()}", headers, data


# the answer to an unexpected failure: never disguised as a client error
UNKNOWN = Problem(500, None, "Internal Server Error",
                  "The server failed to handle the request; it is logged under this request id.")


def field_errors(e: SchemaError, pointer_prefix: str) -> list[dict]:
    """Field errors with a JSON pointer into the request body: ``/field`` for a single
    campaign (``pointer_prefix`` empty), ``/campaigns/<index>/field`` in a batch."""
    out = []
    for err in e.errors:
        d = err.to_dict()
        index = "" if err.row is None or not pointer_prefix else f"/{err.row - 1}"
        d["pointer"] = f"{pointer_prefix}{index}/{err.column}"
        out.append(d)
    return out


def invalid(title: str, errors: list[FieldError], more: int, pointer_prefix: str,
            kind: str = "invalid-campaign") -> Problem:
    """422 for input that breaks the contract: the errors listed (at most
    :data:`riskmodel.MAX_ERRORS`) and, when more were found, ``errors_omitted`` counting
    them."""
    total = len(errors) + more
    noun = "problem" if total == 1 else "problems"
    listed = f" ({len(errors)} listed, {more} more not)" if more else ""
    return Problem(422, kind, title,
                   f"{total:,} input {noun}{listed}; the first: {errors[0].message}",
                   field_errors(SchemaError(errors[:MAX_ERRORS]), pointer_prefix),
                   extra={"errors_omitted": more} if more else None)


def register(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(e: Problem):
        return problem_response(e.status, e.title, e.detail, e.kind, e.errors, e.headers,
                                e.extra)

    @app.errorhandler(StoreUnavailable)
    def _store(e: StoreUnavailable):
        log.warning("store unavailable", extra={"request_id": request_id(),
                                                "reason": str(e)})
        return problem_response(503, "Store unavailable",
                                f"{e}; nothing was recorded, retry later", "store-unavailable",
                                headers={"Retry-After": "30"})

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        if e.code == 413:
            return problem_response(413, "Body too large", e.description, "body-too-large")
        # keep the headers HTTP requires, such as Allow on a 405
        headers = {k: v for k, v in e.get_headers() if k.lower() != "content-type"}
        return problem_response(e.code or 500, e.name, e.description, headers=headers)

    @app.errorhandler(Exception)
    def _unknown(e: Exception):
        # never disguised as a client error: a 500 with a generic message, traceback logged
        log.exception("unhandled error", extra={"request_id": request_id()})
        return problem_response(UNKNOWN.status, UNKNOWN.title, UNKNOWN.detail)
