"""The Flask application factory."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from flask import Flask

from riskmodel import FACTORS, Store, api_keys, database_url, settings
from service import problems
from service.holder import ModelHolder
from service.logs import configure
from service.metrics import Metrics
from service.observe import Observed
from service.openapi import build_openapi
from service.predlog import PredictionLog
from service.problems import Problem
from service.shortcut import ScoreShortcut
from service.views import health, meta, model, outcomes, score
from service.workbench import bp as workbench


class _LazyStore:
    """The prediction log's view of the store: opened on the first write."""

    def __init__(self, get: Callable[[], Store]) -> None:
        self._get = get

    def log_predictions(self, rows: Iterable[Mapping]) -> int:
        return self._get().log_predictions(rows)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then ``RISKMODEL_*`` environment, then ``test_config``.

    ``test_config`` keys are :class:`riskmodel.Settings` field names. This factory is the
    service's one reader of the environment.
    """
    conf = settings(os.environ)
    if test_config:
        conf = replace(conf, **test_config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = conf.max_body_bytes
    log = configure(conf.log_level)
    metrics = Metrics()
    holder_state: dict[str, str | None] = {"version": None}

    def loaded(version: str) -> None:
        metrics.model_loaded(version, holder_state["version"])
        holder_state["version"] = version

    store_state: dict = {"store": None}
    store_lock = threading.Lock()  # requests run on several threads of a worker

    def store() -> Store:
        """The store, migrated on first use; a 503 problem while it cannot be reached."""
        if store_state["store"] is None:
            with store_lock:
                if store_state["store"] is None:
                    try:
                        candidate = Store(database_url(conf))
                        candidate.migrate()
                    except Exception as e:  # unreachable database: scoring goes on
                        log.error("store unavailable", extra={"reason": str(e)})
                        raise Problem(503, "store-unavailable", "Store unavailable",
                                      "the outcome store cannot be reached; retry later"
                                      ) from None
                    store_state["store"] = candidate
        return store_state["store"]

    predlog = PredictionLog(_LazyStore(store), on_failure=lambda n:
                            metrics.prediction_log_failures.inc(n)) \
        if conf.log_predictions else None
    holder = ModelHolder(conf.artifacts, conf.reload_interval,
                         on_refused=lambda v, r: metrics.reload_failures.inc(),
                         on_loaded=loaded)
    app.extensions.update({
        "riskmodel.settings": conf, "riskmodel.holder": holder,
        "riskmodel.metrics": metrics,
        "riskmodel.openapi": build_openapi(conf.max_campaigns, len(FACTORS)),
        "riskmodel.store": store, "riskmodel.predlog": predlog,
        "riskmodel.api_keys": api_keys(conf),
    })
    for bp in (score.bp, model.bp, health.bp, meta.bp, outcomes.bp, workbench):
        app.register_blueprint(bp)
    problems.register(app)

    # POST /v1/score past Flask's per-request work (service/shortcut.py); the rest to Flask
    # (Flask's way to add WSGI middleware; mypy forbids assigning to a method)
    app.wsgi_app = Observed(ScoreShortcut(app.wsgi_app, app.extensions),  # type: ignore[method-assign]
                            metrics, log)
    return app
