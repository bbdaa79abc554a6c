"""The whole loop: score through the service -> post outcomes -> retrain -> the gate
promotes a model of a shifted world and refuses one trained on shuffled labels -> the
service answers with the new version without a restart."""

import json
import shutil
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from riskmodel import SCHEMA, Registry
from service import create_app
from training.retrain import GatePolicy, challenge, retrain, split_recent
from training.synthetic import World, generate

KEY = "loop-key"
# a changed world: attribution now decides, goal agreement hardly matters
SHIFTED = World(no_attribution_effect=2.5, no_utm_effect=1.2, delay_scale=0.5,
                goal_scale=0.2, mou_effect=0.0, budget_scale=2.5, intercept=-2.6)


def _records(df):
    df = df.astype(object)
    return df.where(df.notna(), None).to_dict("records")


@pytest.mark.slow
def test_score_outcomes_retrain_gate_and_hot_swap(trained, history_csv, tmp_path):
    root0, first = trained
    root = tmp_path / "art"
    shutil.copytree(root0, root)
    app = create_app({"artifacts": str(root), "reload_interval": 0.0, "api_keys": KEY,
                      "data_dir": str(tmp_path / "var")})
    client = app.test_client()
    # campaigns scored now and completed later (a plan logged after completion never trains)
    soon = date.today() + timedelta(days=1)
    world = generate(3000, seed=321, world=SHIFTED, start=soon.isoformat(),
                     end=(soon + timedelta(days=19)).isoformat())
    plans = _records(world[list(SCHEMA.names)])
    for i in range(0, len(plans), 500):
        r = client.post("/v1/score", json={"campaigns": plans[i:i + 500]})
        assert r.status_code == 200 and r.get_json()["model_version"] == first.version
    app.extensions["riskmodel.predlog"].flush()
    outcomes = [{"campaign_id": row["campaign_id"], "failed": bool(row["failed"]),
                 "failure_reason": row["failure_reason"] if row["failed"] else None,
                 "completed_on": row["completed_on"]}
                for row in _records(world[["campaign_id", "failed", "failure_reason",
                                           "completed_on"]])]
    for i in range(0, len(outcomes), 500):
        r = client.post("/v1/outcomes", json={"outcomes": outcomes[i:i + 500]},
                        headers={"X-API-Key": KEY})
        assert r.status_code == 200, r.get_data(as_text=True)
    store = app.extensions["riskmodel.store"]()
    assert store.outcome_count() == 3000

    policy = GatePolicy(min_new=500)
    report = retrain(store, root, base=history_csv, policy=policy, progress=False)
    assert report["decision"] == "promoted", report
    assert report["challenger"]["roc_auc"] > report["champion"]["roc_auc"]
    assert report["challenger"]["brier"] < report["champion"]["brier"]
    new_version = report["version"]
    assert Registry(root).current_version() == new_version
    saved = json.loads((root / "models" / new_version / "gate_report.json").read_text())
    assert saved["data_snapshot_sha256"] == report["data_snapshot_sha256"]

    # the running app serves the promoted model, without a restart
    r = client.post("/v1/score", json=plans[0])
    assert r.get_json()["model_version"] == new_version

    # a challenger trained on shuffled labels is refused and changes nothing served
    new = store.training_frame()
    older, holdout = split_recent(new, policy.holdout_share)
    base = pd.read_csv(history_csv)[list(new.columns)]
    noise = pd.concat([base, older], ignore_index=True)
    noise["failed"] = np.random.default_rng(0).permutation(
        noise["failed"].astype(str).str.lower().isin(["true", "1"]).to_numpy())
    noise["failure_reason"] = np.where(noise["failed"], "other", None)
    bad = challenge(noise, holdout, root, n_new=len(new), policy=policy, progress=False)
    assert bad["decision"] == "refused" and bad["reasons"]
    assert Registry(root).current_version() == new_version
    assert (root / "models" / bad["version"] / "gate_report.json").exists()
    assert client.post("/v1/score", json=plans[0]).get_json()["model_version"] == new_version
    history = Registry(root).history()
    assert history[-1]["version"] == new_version and history[-1]["action"] == "promote"
