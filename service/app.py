"""The Flask application factory."""

from __future__ import annotations

import os
import re
import time
from dataclasses import replace

from flask import Flask, g, request

from riskmodel import config
from riskmodel.features import FACTORS
from riskmodel.store import Store
from service import problems
from service.holder import ModelHolder
from service.logs import access_line, configure
from service.metrics import Metrics
from service.openapi import build_openapi
from service.predlog import PredictionLog
from service.problems import Problem
from service.views import health, meta, model, outcomes, score

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _LazyStore:
    """The prediction log's view of the store: opened on the first write."""

    def __init__(self, get) -> None:
        self._get = get

    def log_predictions(self, rows):
        return self._get().log_predictions(rows)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then ``RISKMODEL_*`` environment, then ``test_config``.

    ``test_config`` keys are :class:`riskmodel.config.Settings` field names.
    """
    settings = config.settings()
    if test_config:
        settings = replace(settings, **test_config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    log = configure(settings.log_level)
    metrics = Metrics()
    holder_state = {"version": None}

    def loaded(version: str) -> None:
        metrics.model_loaded(version, holder_state["version"])
        holder_state["version"] = version

    store_state: dict = {"store": None}

    def store() -> Store:
        """The store, migrated on first use; a 503 problem while it cannot be reached."""
        if store_state["store"] is None:
            try:
                candidate = Store(config.database_url(settings))
                candidate.migrate()
            except Exception as e:  # unreachable database: scoring goes on without it
                log.error("store unavailable", extra={"reason": str(e)})
                raise Problem(503, "store-unavailable", "Store unavailable",
                              "the outcome store cannot be reached; retry later") from None
            store_state["store"] = candidate
        return store_state["store"]

    predlog = PredictionLog(_LazyStore(store), on_failure=lambda n:
                            metrics.prediction_log_failures.inc(n)) \
        if settings.log_predictions else None
    holder = ModelHolder(settings.artifacts, settings.reload_interval,
                         on_refused=lambda v, r: metrics.reload_failures.inc(),
                         on_loaded=loaded)
    app.extensions.update({
        "riskmodel.settings": settings, "riskmodel.holder": holder,
        "riskmodel.metrics": metrics, "riskmodel.max_top_k": len(FACTORS),
        "riskmodel.openapi": build_openapi(settings.max_campaigns, len(FACTORS)),
        "riskmodel.store": store, "riskmodel.predlog": predlog,
        "riskmodel.api_keys": config.api_keys(settings),
    })
    for bp in (score.bp, model.bp, health.bp, meta.bp, outcomes.bp):
        app.register_blueprint(bp)
    problems.register(app)

    @app.before_request
    def _start() -> None:
        rid = request.environ.get("HTTP_X_REQUEST_ID")
        g.request_id = rid if rid and _REQUEST_ID.match(rid) else os.urandom(16).hex()
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        ctx = g.__dict__  # one proxy lookup for the request's four values
        elapsed = time.perf_counter() - ctx.get("started", time.perf_counter())
        rule = request.url_rule
        method = request.method if request.method in _METHODS else "other"  # bounded labels
        route = rule.rule if rule else "(unmatched)"
        status = response.status_code
        metrics.child(metrics.requests, route, method, str(status)).observe(elapsed)
        rid = ctx.get("request_id", "")
        response.headers["X-Request-ID"] = rid
        access_line(log, {"request_id": rid, "method": method, "path": request.path,
                          "status": status, "duration_ms": round(elapsed * 1000, 3),
                          "model_version": ctx.get("model_version")})
        return response

    return app
