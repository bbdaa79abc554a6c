"""A service killed with SIGKILL in the middle of outcome posts keeps every outcome it
acknowledged, and the store passes its integrity check afterwards."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from riskmodel.store import Store

KEY = "durable-key"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigkill_loses_no_acknowledged_outcome(trained, tmp_path):
    root, _ = trained
    port = _free_port()
    data = tmp_path / "var"
    env = dict(os.environ, RISKMODEL_ARTIFACTS=str(root), RISKMODEL_API_KEYS=KEY,
               RISKMODEL_DATA_DIR=str(data), RISKMODEL_LOG_LEVEL="WARNING",
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "commands", "serve", "--bind",
                             f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    acknowledged: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)

        def post(worker: int) -> None:
            for i in range(2000):  # bounded; the kill ends it much sooner
                cid = f"d-{worker}-{i}"
                body = {"campaign_id": cid, "failed": i % 3 == 0,
                        "plan": {"campaign_id": cid, "goal_alignment_score": 0.5,
                                 "material_delay_days": 2, "resource_value_usd": 10000,
                                 "committed_ad_budget_usd": 3000}}
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/outcomes", json.dumps(body).encode(),
                    {"Content-Type": "application/json", "X-API-Key": KEY})
                try:
                    with urllib.request.urlopen(req, timeout=5) as r:
                        if r.status == 200:
                            acknowledged.append(cid)
                except OSError:
                    return  # the server is gone

        threads = [threading.Thread(target=post, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        while len(acknowledged) < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        for t in threads:
            t.join(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert len(acknowledged) >= 100
    store = Store(f"sqlite:///{data / 'riskmodel.sqlite3'}")
    try:
        assert store.integrity_check() == []
        stored = set(store.training_frame()["campaign_id"])
        assert set(acknowledged) <= stored
    finally:
        store.dispose()
