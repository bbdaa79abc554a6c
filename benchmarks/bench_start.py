"""Start-up, side by side in one run: how long until the product is usable.

Each round runs, in turn:

- ``riskmodel serve`` (granian, 2 workers, the shipped default model): launch to the first
  ``GET /readyz`` 200;
- the Flask echo app (benchmarks/echo_app.py) on the same granian set-up
  (``service.server.serve``): launch to its first ``POST /v1/score`` 200;
- ``riskmodel --help`` to its exit;
- ``riskmodel score`` of a 10-row CSV to its exit.

Prints every time, the medians, the ratio serve / echo, and the machine's load average
(other work on the machine slows every figure; the ratio is steadier). Beside each wall
time, the CPU seconds (user + system) of the launched process and its children, which
other work on the machine disturbs far less (for a server, its shutdown is included).

The issue's bars: serve ≤ 1.0 s median and ≤ 1.5 × the echo; ``--help`` ≤ 0.3 s;
``score`` of 10 rows ≤ 1.0 s.

    .venv/bin/python benchmarks/bench_start.py --rounds 7
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from bench_service import free_port, stop, wait_ready  # noqa: E402

RISKMODEL = str(Path(sys.executable).with_name("riskmodel"))
ECHO_ON_GRANIAN = ("import os\nfrom riskmodel import settings\nfrom service.server import serve\n"
                   "serve(settings(os.environ), 'echo_app:app', factory=False)\n")


def _env(tmp: Path, port: int | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(BENCH), RISKMODEL_ARTIFACTS=str(ROOT / "artifacts"),
               RISKMODEL_DATA_DIR=str(tmp / "var"), RISKMODEL_WORKERS="2",
               RISKMODEL_LOG_LEVEL="WARNING")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if port is not None:
        env["RISKMODEL_BIND"] = f"127.0.0.1:{port}"
    return env


def serve_time(tmp: Path, echo: bool) -> float:
    port = free_port()
    cmd = [sys.executable, "-c", ECHO_ON_GRANIAN] if echo else [RISKMODEL, "serve"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(tmp, port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_ready(port, "/v1/score" if echo else "/readyz")
        return time.perf_counter() - started
    finally:
        stop(proc)


def run_time(tmp: Path, args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([RISKMODEL, *args], cwd=ROOT, env=_env(tmp), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def ten_rows(tmp: Path) -> Path:
    from riskmodel import SCHEMA
    from training.synthetic import generate

    path = tmp / "plans10.csv"
    generate(10, seed=5)[list(SCHEMA.names)].to_csv(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-start-"))
    times: dict[str, list[float]] = {"serve": [], "echo": [], "help": [], "score10": []}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    loads = []

    def timed(name: str, measure) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        times[name].append(measure())
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)

    try:
        plans = ten_rows(tmp)
        run_time(tmp, ["score", "--in", str(plans), "--out", str(tmp / "warm.csv")])  # caches
        for r in range(args.rounds):
            loads.append(os.getloadavg()[0])
            timed("serve", lambda: serve_time(tmp, echo=False))
            timed("echo", lambda: serve_time(tmp, echo=True))
            timed("help", lambda: run_time(tmp, ["--help"]))
            timed("score10", lambda r=r: run_time(tmp, ["score", "--in", str(plans), "--out",
                                                       str(tmp / f"out{r}.csv")]))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.3f} s (cpu {cpu[k][-1]:.3f})"
                                                  for k, v in times.items())
                  + f"  (load {loads[-1]:.2f})", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    mc = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"\nmedians of {args.rounds} rounds, load average {min(loads):.2f}-{max(loads):.2f} "
          f"on {os.cpu_count()} cores:")
    print(f"  riskmodel serve -> /readyz 200   {med['serve']:.3f} s   [bar ≤ 1.0 s]"
          f"   cpu {mc['serve']:.3f} s")
    print(f"  echo on granian -> first 200     {med['echo']:.3f} s   cpu {mc['echo']:.3f} s")
    ratio = statistics.median(s / e for s, e in zip(times["serve"], times["echo"], strict=True))
    print(f"  serve / echo (median of ratios)  {ratio:.2f}   [bar ≤ 1.5]   cpu "
          f"{mc['serve'] / mc['echo']:.2f}")
    print(f"  riskmodel --help                 {med['help']:.3f} s   [bar ≤ 0.3 s]"
          f"   cpu {mc['help']:.3f} s")
    print(f"  riskmodel score, 10 rows         {med['score10']:.3f} s   [bar ≤ 1.0 s]"
          f"   cpu {mc['score10']:.3f} s")


if __name__ == "__main__":
    main()
