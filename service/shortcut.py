"""``POST /v1/score`` answered without Flask's per-request machinery.

Measured with callgrind (benchmarks/bench_service_instructions.py: instructions counted in
a granian worker, the same on a busy machine as on an idle one): a scoring request cost
1,024,000 instructions and the Flask echo's whole request 612,000; Flask's own work per
request (request and app contexts, URL matching, signals, the response object, teardown)
was about 380,000 of those (the echo as a bare WSGI function: 173,000 against 551,000,
in-process). The scoring view needs none of it: it reads the WSGI environ and the app's
extensions, and returns bytes. So the one route that carries the load goes straight to
:func:`service.views.score.score_json`, and every other request to Flask; a scoring request
then cost 677,000. Its errors are answered as Flask's handlers answer them
(``service/problems.py``); a test holds the two ways equal, byte for byte
(tests/test_shortcut.py).
"""

from __future__ import annotations

import logging

from service.i18n import locale_of
from service.observe import REQUEST_ID_KEY, ROUTE_KEY
from service.problems import UNKNOWN, Problem, problem_wsgi
from service.views.score import score_json

log = logging.getLogger("riskmodel.service")

ROUTE = "/v1/score"


class ScoreShortcut:
    """WSGI app: ``POST /v1/score`` to :func:`score_json`, anything else to ``flask_app``
    (the Flask app's own ``wsgi_app``)."""

    def __init__(self, flask_app, extensions: dict) -> None:
        self.flask_app, self.extensions = flask_app, extensions

    def __call__(self, environ: dict, start_response):
        if environ.get("PATH_INFO") != ROUTE or environ.get("REQUEST_METHOD") != "POST":
            return self.flask_app(environ, start_response)
        environ[ROUTE_KEY] = ROUTE
        try:
            body = score_json(environ, self.extensions)
            status, headers = "200 OK", [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(body)))]
        except Problem as e:
            status, headers, body = problem_wsgi(e, environ.get(REQUEST_ID_KEY),
                                                 locale_of(environ))
        except Exception:  # as Flask's handler: a 500 with a generic message, traceback logged
            log.exception("unhandled error", extra={"request_id": environ.get(REQUEST_ID_KEY)})
            status, headers, body = problem_wsgi(UNKNOWN, environ.get(REQUEST_ID_KEY),
                                                 locale_of(environ))
        start_response(status, headers)
        return [body]
