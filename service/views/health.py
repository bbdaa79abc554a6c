"""GET /healthz (alive) and GET /readyz (a verified model is loaded)."""

from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict:
    return {"status": "alive"}


@bp.get("/readyz")
def readyz():
    holder = current_app.extensions["riskmodel.holder"]
    scorer = holder.current()
    body = {"status": "ready" if scorer else "unready",
            "model_version": scorer.version if scorer else None,
            "reason": None if scorer else holder.unready_reason,
            "last_refused": holder.refused}
    return body, 200 if scorer else 503
