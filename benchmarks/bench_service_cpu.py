"""CPU time per request in the server processes: the echo and riskmodel (with and without
the prediction log) on granian, and the echo and riskmodel on gunicorn, side by side.

    python benchmarks/bench_service_cpu.py [--seconds 8] [--rounds 6] [--servers NAME ...]

Requests per second on this shared machine swing by a fifth between rounds; the CPU time
the server spends per request (user + system of its main process and workers, all their
threads, read from /proc before and after each wrk run) is steadier, so it is what to
compare when a change is worth tens of microseconds. Same servers, load and settings as
benchmarks/bench_service.py (which it reuses); Linux only.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

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


def _processes(main: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(main)], capture_output=True, text=True)
    return [main, *(int(p) for p in out.stdout.split())]


def main() -> None:
    names = list(svc.SERVERS)
    if "--servers" in sys.argv:  # a subset, e.g. --servers "granian echo" "granian riskmodel"
        i = sys.argv.index("--servers")
        names = [n for n in sys.argv[i + 1:] if not n.startswith("--")]
        del sys.argv[i:i + 1 + len(names)]
    args = svc.arguments(rounds=6)
    results: dict[str, list[tuple[float, float]]] = {}
    with svc.servers(names) as (script, running):
        for r in range(args.rounds):
            for name, (proc, port) in running.items():
                pids = _processes(proc.pid)
                before = _cpu_seconds(pids)
                res = svc.wrk(port, args.seconds, args.connections, script)
                us = (_cpu_seconds(pids) - before) / (res["rps"] * args.seconds) * 1e6
                results.setdefault(name, []).append((res["rps"], us))
                print(f"round {r + 1} {name:<20} {res['rps']:8.0f} req/s  {us:7.1f} us "
                      "CPU/request", flush=True)
    cpu = {k: statistics.median(us for _, us in v) for k, v in results.items()}
    for name in results:
        print(f"median {name:<20} {cpu[name]:7.1f} us CPU/request")
    for a, b in (("granian riskmodel", "granian echo"), ("gunicorn riskmodel", "gunicorn echo"),
                 ("granian riskmodel", "gunicorn riskmodel")):
        if a in cpu and b in cpu:
            print(f"{a} / {b}: {cpu[a] / cpu[b]:.2f} times the CPU per request")
    if "granian no-predlog" in cpu and "granian riskmodel" in cpu:
        print(f"the prediction log adds {cpu['granian riskmodel'] - cpu['granian no-predlog']:.0f}"
              " us on granian (median of the rounds)")


if __name__ == "__main__":
    main()
