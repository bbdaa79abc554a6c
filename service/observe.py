"""Every request observed: an id, its time and status in the metrics, one access-log line."""

from __future__ import annotations

import os
import random
import re
import time

from flask import request

from service.i18n import content_language
from service.logs import access_line
from service.metrics import Metrics

REQUEST_ID_KEY = "riskmodel.request_id"
MODEL_VERSION_KEY = "riskmodel.model_version"
ROUTE_KEY = "riskmodel.route"  # the route, set by an app that answers without Flask
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Request ids are for correlating log lines, not secrets: a generator seeded from the OS
# (again in every forked worker, so no two workers share a sequence) spares a system call
# per request.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def new_request_id() -> str:
    """32 random hex digits."""
    return f"{_ids.getrandbits(128):032x}"


def request_id() -> str | None:
    """The current request's id (``X-Request-ID``), set by :class:`Observed`."""
    return request.environ.get(REQUEST_ID_KEY)


class Observed:
    """WSGI middleware around the Flask app: every request gets an id (the client's
    ``X-Request-ID`` if it is a sane one, else a new one), echoed in the response header;
    its time and status go to the request metrics and to one JSON access-log line.

    A middleware, not Flask ``before_request``/``after_request`` hooks: it does the same
    work without Flask's per-hook dispatch or a context-local lookup per value, which
    measured under gunicorn was a visible share of a scoring request. Views read the id
    with :func:`request_id`, and name the model version that answered in
    ``environ[MODEL_VERSION_KEY]``.

    The answer is handed to the server as one piece of bytes in a list (every response of
    this app is in memory; none streams). granian sends a list with one write; an iterator
    it pulls chunk by chunk through a channel between threads, which measured with strace
    cost about four more system calls a request (thread wake-ups) and often a second write.
    """

    def __init__(self, wsgi_app, metrics: Metrics, log) -> None:
        self.wsgi_app, self.metrics, self.log = wsgi_app, metrics, log

    def __call__(self, environ: dict, start_response):
        started = time.perf_counter()
        rid = environ.get("HTTP_X_REQUEST_ID")
        if not (rid and _REQUEST_ID.match(rid)):
            rid = new_request_id()
        environ[REQUEST_ID_KEY] = rid
        answered: list = []

        def start(status: str, headers: list, exc_info=None):
            headers.append(("X-Request-ID", rid))
            headers.append(("Content-Language", content_language(environ)))
            # the request Flask built (its matched rule, its decoded path): Flask clears
            # this environ entry when its context ends, which is before our finally
            answered.append((status, environ.get("werkzeug.request")))
            return start_response(status, headers, exc_info)

        try:
            body = self.wsgi_app(environ, start)
            try:
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:  # as WSGI requires of whoever consumes the body
                    close()
        finally:  # also when the app raised (it answers every error itself, so rarely)
            elapsed = time.perf_counter() - started
            line, req = answered[-1] if answered else ("500", None)
            route = environ.get(ROUTE_KEY)
            if route is None:
                rule = req.url_rule if req is not None else None
                route = rule.rule if rule else "(unmatched)"
            method = environ.get("REQUEST_METHOD", "")
            if method not in _METHODS:
                method = "other"  # bounded label values
            status = int(line[:3])
            metrics = self.metrics
            metrics.child(metrics.requests, route, method, str(status)).observe(elapsed)
            access_line(self.log, {
                "request_id": rid, "method": method,
                "path": req.path if req is not None else environ.get("PATH_INFO", ""),
                "status": status, "duration_ms": round(elapsed * 1000, 3),
                "model_version": environ.get(MODEL_VERSION_KEY)})
