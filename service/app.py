"""The Flask application factory."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from riskmodel import FACTORS, ConfigError, api_keys, database_url, model_keys, settings
from service import i18n, problems
from service.holder import ModelHolder
from service.logs import configure
from service.metrics import Metrics
from service.monitoring import Monitoring, MonitoringGauges
from service.observe import Observed
from service.openapi import build_openapi
from service.predlog import PredictionLog
from service.shortcut import ScoreShortcut
from service.store import StoreHolder
from service.views import health, meta, model, monitoring, outcomes, score
from service.workbench import bp as workbench


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

    store = StoreHolder(database_url(conf), _file_id(conf.store_file_id))
    predlog = PredictionLog(store, on_failure=metrics.prediction_log_failures.inc,
                            on_drop=metrics.prediction_log_dropped.inc,
                            prune=_retention(store, conf.prediction_retention_days)) \
        if conf.log_predictions else None
    keys = api_keys(conf)
    if not keys:
        log.warning("RISKMODEL_API_KEYS is empty: POST /v1/outcomes and every other write "
                    "endpoint refuse all requests (401) until keys are set")
    _, verify_key = model_keys("", conf.verify_key)  # serving never holds the signing key
    if verify_key is None:
        log.warning("RISKMODEL_VERIFY_KEY is not set: any version with consistent checksums "
                    "is served, whoever wrote it (docs/model.md, signed versions)")
    holder = ModelHolder(conf.artifacts, conf.reload_interval,
                         on_refused=lambda v, why: metrics.reload_failures.labels(why).inc(),
                         on_loaded=loaded, verify_key=verify_key)
    app.extensions.update({
        "riskmodel.settings": conf, "riskmodel.holder": holder,
        "riskmodel.metrics": metrics,
        "riskmodel.openapi": build_openapi(conf.max_campaigns, len(FACTORS)),
        "riskmodel.store": store, "riskmodel.predlog": predlog,
        "riskmodel.api_keys": keys, "riskmodel.verify_key": verify_key,
        "riskmodel.monitoring": Monitoring(store, holder, MonitoringGauges(metrics.registry)),
    })
    for bp in (score.bp, model.bp, health.bp, meta.bp, outcomes.bp, monitoring.bp, workbench):
        app.register_blueprint(bp)
    problems.register(app)
    i18n.init_app(app)

    # POST /v1/score past Flask's per-request work (service/shortcut.py); the rest to Flask
    # (Flask's way to add WSGI middleware; mypy forbids assigning to a method)
    wsgi: Any = Observed(ScoreShortcut(app.wsgi_app, app.extensions), metrics, log)
    if conf.behind_proxy:  # the scheme the browser used (HTTPS at the proxy), for the
        # workbench's same-origin check, and the client's address for the logs
        from werkzeug.middleware.proxy_fix import ProxyFix

        wsgi = ProxyFix(wsgi, x_for=1, x_proto=1)
    app.wsgi_app = wsgi  # type: ignore[method-assign]
    return app


def _retention(store: StoreHolder, days: int):
    """What the prediction log writer calls to apply the retention; None: keep for ever."""
    if days <= 0:
        return None

    def prune() -> int:
        return store().prune_predictions(datetime.now(UTC) - timedelta(days=days))
    return prune


def _file_id(value: str) -> tuple[int, int] | None:
    """``RISKMODEL_STORE_FILE_ID`` (``device:inode``, set by ``riskmodel serve``)."""
    if not value:
        return None
    device, _, inode = value.partition(":")
    try:
        return int(device), int(inode)
    except ValueError:
        raise ConfigError(f"RISKMODEL_STORE_FILE_ID must be device:inode; got {value!r}") \
            from None
