"""The hot swap under load, against a real server (`riskmodel serve`, granian) on loopback.

A bounded loop of requests from several threads while CURRENT flips between two good
versions and once to a corrupt one: no request may fail, and every answer must carry one of
the two good versions with exactly that version's score.
"""

import json
import os
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import running_server

from riskmodel import load_model

CAMPAIGNS = [
    {"campaign_id": f"swap-{i}", "marketplace": "US", "category": "home",
     "campaign_type": t, "duration_days": 1, "goal_alignment_score": g,
     "material_delay_days": d, "resource_value_usd": 20000, "committed_ad_budget_usd": b}
    for i, (t, g, d, b) in enumerate([("deal_of_the_day", 0.4, 10, 3000),
                                      ("search_top_banner", 0.9, -2, 8000),
                                      ("lightning_deal", 0.6, 4, 5000)])
]


def _write_current(root, version: str) -> None:
    tmp = root / ".CURRENT.test"
    tmp.write_text(version + "\n")
    os.replace(tmp, root / "CURRENT")


def _post(port: int, campaign: dict) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/score",
                                 json.dumps(campaign).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {}


@pytest.fixture
def server(two_versions, tmp_path):
    import shutil

    root, a, b, bad = two_versions
    art = tmp_path / "art"
    shutil.copytree(root, art)
    _write_current(art, a)
    with running_server(art, tmp_path, RISKMODEL_RELOAD_INTERVAL="0.05") as port:
        yield port, art, a, b, bad


def test_swap_under_load_loses_no_request(server):
    port, art, a, b, bad = server
    expected = {v: {s.campaign_id: s.failure_risk
                    for s in load_model(v, root=art).score(CAMPAIGNS)} for v in (a, b)}
    assert expected[a] != expected[b]
    stop = threading.Event()

    def flip():
        sequence = [b, a, b, bad, a, b, a, b, a]
        for version in sequence:
            time.sleep(0.15)
            _write_current(art, version)
        stop.set()

    answers, failures = [], []

    def load(worker: int):
        for i in range(400):  # bounded, whatever happens
            if stop.is_set() and i > 50:
                break
            campaign = CAMPAIGNS[(worker + i) % len(CAMPAIGNS)]
            try:
                status, body = _post(port, campaign)
            except OSError as e:
                failures.append(repr(e))
                continue
            if status != 200:
                failures.append(status)
                continue
            [result] = body["results"]
            answers.append((body["model_version"], result["campaign_id"],
                            result["failure_risk"]))

    flipper = threading.Thread(target=flip)
    clients = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    flipper.start()
    for t in clients:
        t.start()
    for t in clients + [flipper]:
        t.join(timeout=120)
    assert failures == []
    assert len(answers) >= 200
    seen = {v for v, _, _ in answers}
    assert seen == {a, b}, seen
    for version, cid, risk in answers:
        assert risk == pytest.approx(expected[version][cid], abs=1e-12)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
        ready = json.loads(r.read())
    assert ready["status"] == "ready"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    served = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith("riskmodel_http_request_duration_seconds_count{")
                 and 'route="/v1/score"' in line and 'status="200"' in line)
    assert served == len(answers)  # counted once, across both workers
    refused = [line for line in text.splitlines()
               if line.startswith("riskmodel_model_refused_total")]
    assert refused and float(refused[0].rsplit(" ", 1)[1]) >= 1


def test_refused_version_is_retried_once_its_files_change(two_versions, tmp_path):
    """A version refused for a bad checksum is loaded once its files are fixed; until
    then the old version keeps serving and the refusal is shown."""
    import shutil

    from service.holder import ModelHolder

    src, a, _, bad = two_versions
    root = tmp_path / "root"
    shutil.copytree(src, root)
    holder = ModelHolder(root, interval=0.0)
    assert holder.scorer.version == a
    _write_current(root, bad)
    holder.check(force=True)
    assert holder.scorer.version == a and holder.refused["version"] == bad
    holder.check(force=True)  # unchanged files: not tried again
    assert holder.scorer.version == a
    good = root / "models" / a / "model.npz"
    (root / "models" / bad / "model.npz").write_bytes(good.read_bytes())
    holder.check(force=True)
    assert holder.scorer.version == bad
