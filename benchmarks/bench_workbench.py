"""Server time of the workbench's check page, and of the scoring request it makes.

    python benchmarks/bench_workbench.py [--artifacts artifacts] [--requests 500]

Runs `riskmodel serve` (the shipped server configuration) on a free loopback port and
asks it, one request at a time over one keep-alive connection:

- `GET /?<a shared check's campaign>`: the check page, filled from its address. Its server
  time is the `Server-Timing: app;dur=` header the workbench sends (measured inside the
  Flask app, from the blueprint's first hook to its last).
- `POST /v1/score?top_k=<all factors>`: the request the page's script sends for the answer.
  The API sends no Server-Timing, so its time is the client's round trip on loopback (an
  upper bound of the server's time).

Medians and 99th percentiles are printed; nothing is asserted (the tests never time).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from riskmodel import FACTORS

CAMPAIGN = {"campaign_id": "Q3-late-17", "marketplace": "US", "category": "home",
            "campaign_type": "deal_of_the_day", "duration_days": 7,
            "goal_alignment_score": 0.6, "mou_signed": False, "material_delay_days": 45,
            "resource_value_usd": 20000, "committed_ad_budget_usd": 6000}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _p(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--requests", type=int, default=500)
    args = ap.parse_args()
    port = _port()
    env = dict(os.environ, RISKMODEL_ARTIFACTS=str(Path(args.artifacts).resolve()),
               RISKMODEL_LOG_LEVEL="WARNING", RISKMODEL_LOG_PREDICTIONS="false",
               RISKMODEL_WORKERS="1", RISKMODEL_DATA_DIR=tempfile.mkdtemp(),
               PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp())
    proc = subprocess.Popen([sys.executable, "-m", "commands", "serve", "--bind",
                             f"127.0.0.1:{port}"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/readyz")
                ready = conn.getresponse()
                ready.read()
                if ready.status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not become ready")
            time.sleep(0.2)
        query = urllib.parse.urlencode({k: str(v).lower() if isinstance(v, bool) else v
                                        for k, v in CAMPAIGN.items()})
        factors = len(FACTORS)  # as the page asks: every factor explained
        page, score = [], []
        body = json.dumps(CAMPAIGN)
        for i in range(args.requests + 20):  # the first 20 warm up
            conn.request("GET", f"/?{query}")
            r = conn.getresponse()
            r.read()
            timing = r.getheader("Server-Timing", "")
            started = time.perf_counter()
            conn.request("POST", f"/v1/score?top_k={factors}", body,
                         {"content-type": "application/json"})
            r2 = conn.getresponse()
            r2.read()
            elapsed = (time.perf_counter() - started) * 1000
            assert r.status == 200 and r2.status == 200, (r.status, r2.status)
            if i >= 20:
                page.append(float(timing.split("dur=")[1]))
                score.append(elapsed)
        print(f"GET /?campaign (the check page)   server time: median "
              f"{statistics.median(page):.2f} ms, p99 {_p(page, 0.99):.2f} ms  "
              f"(Server-Timing, {len(page)} requests)")
        print(f"POST /v1/score (the check itself) round trip:  median "
              f"{statistics.median(score):.2f} ms, p99 {_p(score, 0.99):.2f} ms  (loopback)")
        total = [a + b for a, b in zip(page, score, strict=True)]
        print(f"both together: median {statistics.median(total):.2f} ms, p99 "
              f"{_p(total, 0.99):.2f} ms")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
