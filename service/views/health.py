"""GET /healthz (alive) and GET /readyz (a verified model is loaded; the store's state)."""

from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict:
    return {"status": "alive"}


@bp.get("/readyz")
def readyz():
    """Ready means able to score: a store that cannot take writes is reported under
    ``store`` (and the prediction log's back-log under ``prediction_log``) but leaves the
    service ready, since scoring never needs it."""
    extensions = current_app.extensions
    holder = extensions["riskmodel.holder"]
    scorer = holder.current()
    predlog = extensions["riskmodel.predlog"]
    body = {"status": "ready" if scorer else "unready",
            "model_version": scorer.version if scorer else None,
            "reason": None if scorer else holder.unready_reason,
            "last_refused": holder.refused,
            "store": extensions["riskmodel.store"].state(),
            "prediction_log": predlog.status() if predlog is not None else {"status": "off"}}
    return body, 200 if scorer else 503
