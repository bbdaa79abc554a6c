"""The Flask application factory."""

from __future__ import annotations

from dataclasses import replace

from flask import Flask

from riskmodel import config
from riskmodel.features import FACTORS
from riskmodel.store import Store
from service import problems
from service.holder import ModelHolder
from service.logs import configure
from service.metrics import Metrics
from service.observe import Observed
from service.openapi import build_openapi
from service.predlog import PredictionLog
from service.problems import Problem
from service.views import health, meta, model, outcomes, score


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

    app.wsgi_app = Observed(app.wsgi_app, metrics, log)  # type: ignore[method-assign]
    return app
