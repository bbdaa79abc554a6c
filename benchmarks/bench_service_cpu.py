"""Worker CPU time per request under gunicorn: the echo, riskmodel, riskmodel without the
prediction log, side by side.

    python benchmarks/bench_service_cpu.py [--seconds 8] [--rounds 6]

Requests per second on this shared machine swing by a fifth between rounds; the CPU time the
gunicorn workers spend per request (user + system, read from /proc before and after each wrk
run) is steadier, so it is what to compare when a change is worth tens of microseconds.
Same servers, load and settings as benchmarks/bench_service.py (which it reuses); Linux only.
"""

from __future__ import annotations

import os
import statistics
import subprocess

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
    args = svc.arguments(rounds=6)
    results: dict[str, list[tuple[float, float]]] = {}
    with svc.three_servers(18181, args.connections) as (script, servers):
        for r in range(args.rounds):
            for name, (proc, port) in servers.items():
                workers = _workers(proc.pid)
                before = _cpu_seconds(workers)
                rps, _ = svc.wrk(port, args.seconds, args.connections, script)
                us = (_cpu_seconds(workers) - before) / (rps * args.seconds) * 1e6
                results.setdefault(name, []).append((rps, us))
                print(f"round {r + 1} {name:<10} {rps:8.0f} req/s  {us:7.1f} us CPU/request",
                      flush=True)
    cpu = {k: statistics.median(us for _, us in v) for k, v in results.items()}
    for name in results:
        print(f"median {name:<10} {cpu[name]:7.1f} us CPU/request")
    print(f"riskmodel / echo: {cpu['riskmodel'] / cpu['echo']:.2f} times the CPU per request; "
          f"the prediction log adds {cpu['riskmodel'] - cpu['no-predlog']:.0f} us "
          "(median of the rounds)")


if __name__ == "__main__":
    main()
