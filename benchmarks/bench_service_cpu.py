"""Worker CPU time per request under gunicorn: the echo, riskmodel, riskmodel without the
prediction log, side by side.

    python benchmarks/bench_service_cpu.py [--seconds 8] [--rounds 6]

Requests per second on this shared machine swing by a fifth between rounds; the CPU time the
gunicorn workers spend per request (user + system, read from /proc before and after each wrk
run) is steadier, so it is what to compare when a change is worth tens of microseconds.
Same servers, load and settings as benchmarks/bench_service.py (which it reuses); Linux only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
from pathlib import Path

import bench_service as svc


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def _workers(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--connections", type=int, default=8)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-cpu-"))
    script = svc.write_script(tmp)
    env = svc.server_env(tmp)
    apps = {"echo": ("echo_app:app", env),
            "riskmodel": ("service:create_app()", env),
            "no-predlog": ("service:create_app()", dict(env, RISKMODEL_LOG_PREDICTIONS="false"))}
    servers = {name: (svc.start(app, 18181 + i, e), 18181 + i)
               for i, (name, (app, e)) in enumerate(apps.items())}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in apps}
    try:
        for _, port in servers.values():  # warm every server
            svc.wrk(port, 2, args.connections, script)
        for r in range(args.rounds):
            for name, (proc, port) in servers.items():
                workers = _workers(proc.pid)
                before = _cpu_seconds(workers)
                rps, _ = svc.wrk(port, args.seconds, args.connections, script)
                us = (_cpu_seconds(workers) - before) / (rps * args.seconds) * 1e6
                results[name].append((rps, us))
                print(f"round {r + 1} {name:<10} {rps:8.0f} req/s  {us:7.1f} us CPU/request",
                      flush=True)
    finally:
        for proc, _ in servers.values():
            os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in servers.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
    cpu = {k: statistics.median(us for _, us in v) for k, v in results.items()}
    for name in apps:
        print(f"median {name:<10} {cpu[name]:7.1f} us CPU/request")
    print(f"riskmodel / echo: {cpu['riskmodel'] / cpu['echo']:.2f} times the CPU per request; "
          f"the prediction log adds {cpu['riskmodel'] - cpu['no-predlog']:.0f} us "
          "(median of the rounds)")


if __name__ == "__main__":
    main()
