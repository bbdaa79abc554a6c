"""GET /v1/model: the version in service."""

from __future__ import annotations

from flask import Blueprint, current_app

from service.problems import Problem

bp = Blueprint("model", __name__)


@bp.get("/v1/model")
def model() -> dict:
    holder = current_app.extensions["riskmodel.holder"]
    scorer = holder.current()
    if scorer is None:
        raise Problem(503, "model-unavailable", "Model unavailable", holder.unready_reason)
    m = scorer.manifest
    metrics = {k: v for k, v in m.get("metrics", {}).items() if k != "calibration_table"}
    return {"model_version": scorer.version, "created_at": m.get("created_at"),
            "code_version": m.get("code_version"), "family": m.get("model", {}).get("family"),
            "attribution": scorer.attribution,
            "metrics": metrics, "bands": scorer.bands, "schema": m.get("schema"),
            "libraries": m.get("libraries"), "training_data": m.get("training_data")}
