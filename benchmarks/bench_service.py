"""Service throughput on loopback: POST /v1/score against a trivial Flask echo, side by side.

    python benchmarks/bench_service.py [--seconds 8] [--rounds 5] [--connections 8]

Both apps run under the same gunicorn settings (service/gunicorn_conf.py: 2 sync workers);
the load comes from wrk (Debian package `wrk`) in a separate process, 2 threads, 8
connections, one campaign per request and the default three factors. Rounds alternate
echo / riskmodel so drift hits both alike; medians of requests/s and p99 are printed with
the ratio. The issue's bars: ratio ≥ 0.70, p99 < 20 ms at 8 connections. A third server runs
riskmodel with the prediction log off (RISKMODEL_LOG_PREDICTIONS=false), so the cost of
logging every scored campaign to the store (SQLite under a temporary directory) is printed
as a ratio too (bar: the log costs at most 20%). Extra environment (e.g.
RISKMODEL_LOG_LEVEL) is passed to the riskmodel servers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = {
    "campaign_id": "bench-1", "marketplace": "US", "category": "home",
    "campaign_type": "lightning_deal", "duration_days": 1, "goal_alignment_score": 0.55,
    "mou_signed": False, "dedicated_contact": True, "weekly_sync": False,
    "material_delay_days": 6, "brand_avg_past_delay_days": 3, "custom_video_required": True,
    "resource_value_usd": 20000, "committed_ad_budget_usd": 4000,
    "attribution_enabled": False, "utm_configured": True, "brand_analytics_active": True,
    "annual_sales_usd": 1200000, "bsr_top100_products": 4, "monthly_ad_spend_usd": 7000,
    "has_a_plus_content": True, "has_video_main_image": False, "prior_coop_campaigns": 2,
}


def start(app: str, port: int, env: dict) -> subprocess.Popen:
    conf = ROOT / "benchmarks" / "gunicorn_conf.py"
    env = dict(env, RISKMODEL_BIND=f"127.0.0.1:{port}")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", str(conf), app],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    body = json.dumps(CAMPAIGN).encode()
    for _ in range(200):
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/score", body,
                                         {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit(f"{app} did not answer on port {port}")


def wrk(port: int, seconds: int, connections: int, script: Path) -> tuple[float, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), f"http://127.0.0.1:{port}/v1/score"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} failed requests on port {port}:\n{out}")
    return rps, p99


def write_script(tmp: Path) -> Path:
    """wrk's script: POST the one campaign as JSON."""
    script = tmp / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = {json.dumps(json.dumps(CAMPAIGN))}\n")
    return script


def server_env(tmp: Path) -> dict:
    """The servers' environment: metrics and the prediction log's store under ``tmp``."""
    (tmp / "metrics").mkdir()
    return dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp / "metrics"),
                PYTHONPATH=str(ROOT / "benchmarks"), RISKMODEL_DATA_DIR=str(tmp / "var"))


def arguments(rounds: int) -> argparse.Namespace:
    """The benchmarks' options (seconds and rounds of wrk, connections); wrk must exist."""
    ap = argparse.ArgumentParser()
    # single rounds on this shared 2-core machine swing by a fifth: several by default
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--connections", type=int, default=8)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    return args


@contextlib.contextmanager
def three_servers(base_port: int, connections: int):
    """The echo, riskmodel, and riskmodel with the prediction log off, each under gunicorn
    on its own port, warmed up: yields wrk's script and ``{name: (process, port)}``, and
    stops them all (and removes their files) afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    script = write_script(tmp)
    env = server_env(tmp)
    apps = {"echo": ("echo_app:app", env),
            "riskmodel": ("service:create_app()", env),
            "no-predlog": ("service:create_app()", dict(env, RISKMODEL_LOG_PREDICTIONS="false"))}
    servers = {}
    try:
        for i, (name, (app, app_env)) in enumerate(apps.items()):
            servers[name] = (start(app, base_port + i, app_env), base_port + i)
        for _, port in servers.values():
            wrk(port, 2, connections, script)  # warm-up
        yield script, servers
    finally:
        for proc, _ in servers.values():
            os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in servers.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    args = arguments(rounds=5)
    results: dict[str, list] = {}
    with three_servers(18081, args.connections) as (script, servers):
        for r in range(args.rounds):
            for name, (_, port) in servers.items():
                rps, p99 = wrk(port, args.seconds, args.connections, script)
                results.setdefault(name, []).append((rps, p99))
                print(f"round {r + 1} {name:<10} {rps:8.0f} req/s  p99 {p99:6.2f} ms")
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
           for k, v in results.items()}
    print(f"median: echo {med['echo'][0]:.0f} req/s (p99 {med['echo'][1]:.2f} ms), riskmodel "
          f"{med['riskmodel'][0]:.0f} req/s (p99 {med['riskmodel'][1]:.2f} ms); ratio "
          f"{med['riskmodel'][0] / med['echo'][0]:.2f} (bar ≥ 0.70, p99 < 20 ms)")
    # each round's riskmodel run against the echo run just before it: drift cancels
    paired = [r[0] / e[0] for r, e in zip(results["riskmodel"], results["echo"], strict=True)]
    print(f"ratio per round: {', '.join(f'{x:.2f}' for x in paired)}; median "
          f"{statistics.median(paired):.2f}")
    on, off = med["riskmodel"][0], med["no-predlog"][0]
    print(f"prediction log: on {on:.0f} req/s, off {off:.0f} req/s; on/off {on / off:.2f} "
          "(bar ≥ 0.80)")


if __name__ == "__main__":
    main()
