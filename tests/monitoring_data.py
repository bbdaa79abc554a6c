"""What the monitoring tests share: a store filled with a (shifted) world's campaigns, scored
on one day and, if asked, their outcomes; a copy of an artifacts root whose version has lost
its reference statistics."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from riskmodel import SCHEMA, Registry, Store, validate_campaigns
from training.synthetic import generate


def fill_store(url, scorer, shift=None, n=800, seed=1000, outcomes=True) -> None:
    """Log ``n`` campaigns of the generator's world (moved by ``shift``) as scored on
    2026-08-03 by ``scorer``, completed in September–October 2026; record their outcomes."""
    store = Store(url)
    store.migrate()
    df = generate(n, seed=seed, shift=shift, start="2026-09-01", end="2026-10-31",
                  id_prefix="W")
    plans = df[list(SCHEMA.names)].astype(object)
    records = plans.where(plans.notna(), None).to_dict("records")
    risk = scorer.compute(validate_campaigns(df[list(SCHEMA.names)]).batch).risk
    store.log_predictions([{"campaign_id": p["campaign_id"], "model_version": scorer.version,
                            "failure_risk": float(r), "risk_band": "low", "inputs": p,
                            "source": "test", "request_id": None,
                            "scored_at": datetime(2026, 8, 3, tzinfo=UTC)}
                           for p, r in zip(records, risk, strict=True)])
    if outcomes:
        store.record_outcomes([{"campaign_id": c, "failed": bool(f), "completed_on": d}
                               for c, f, d in zip(df.campaign_id, df.failed, df.completed_on,
                                                  strict=True)])
    store.dispose()


def without_reference(root: Path, version: str, copy: Path) -> Path:
    """A copy of the artifacts ``root`` in which ``version`` has no reference statistics
    (the file and its manifest entry gone, as in a version trained before they existed)."""
    shutil.copytree(root, copy)
    registry = Registry(copy)
    manifest = registry.manifest(version)
    del manifest["files"]["reference.json"]
    (registry.models / version / "reference.json").unlink()
    (registry.models / version / "manifest.json").write_text(json.dumps(manifest))
    return copy
