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

With ``--baseline DIR`` (another checkout with its own ``.venv``, such as a
``git worktree`` of an earlier commit), each round also runs the baseline's serve, --help
and score, the two checkouts' turns alternating from round to round, and the medians of
ours / baseline per round are printed.

    .venv/bin/python benchmarks/bench_start.py --rounds 7
    .venv/bin/python benchmarks/bench_start.py --rounds 9 --baseline /work/base
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

ECHO_ON_GRANIAN = ("import os\nfrom riskmodel import settings\nfrom service.server import serve\n"
                   "serve(settings(os.environ), 'echo_app:app', factory=False)\n")


def _riskmodel(root: Path) -> str:
    """The ``riskmodel`` command of checkout ``root``: this interpreter's for this one, the
    one in ``root``'s own .venv for a baseline."""
    if root == ROOT:
        return str(Path(sys.executable).with_name("riskmodel"))
    return str(root / ".venv" / "bin" / "riskmodel")


def _env(tmp: Path, port: int | None = None, root: Path = ROOT) -> dict[str, str]:
    var = tmp / ("var" if root == ROOT else "var-baseline")  # each checkout its own store
    env = dict(os.environ, PYTHONPATH=str(BENCH), RISKMODEL_ARTIFACTS=str(root / "artifacts"),
               RISKMODEL_DATA_DIR=str(var), RISKMODEL_WORKERS="2",
               RISKMODEL_LOG_LEVEL="WARNING")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if port is not None:
        env["RISKMODEL_BIND"] = f"127.0.0.1:{port}"
    return env


def serve_time(tmp: Path, echo: bool, root: Path = ROOT) -> float:
    port = free_port()
    cmd = [sys.executable, "-c", ECHO_ON_GRANIAN] if echo else [_riskmodel(root), "serve"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, env=_env(tmp, port, root), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_ready(port, "/v1/score" if echo else "/readyz")
        return time.perf_counter() - started
    finally:
        stop(proc)


def run_time(tmp: Path, args: list[str], root: Path = ROOT) -> float:
    started = time.perf_counter()
    subprocess.run([_riskmodel(root), *args], cwd=root, env=_env(tmp, root=root), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def ten_rows(tmp: Path) -> Path:
    from riskmodel import SCHEMA
    from training.synthetic import generate

    path = tmp / "plans10.csv"
    generate(10, seed=5)[list(SCHEMA.names)].to_csv(path, index=False)
    return path


MEASURES = ("serve", "echo", "help", "score10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout (with its .venv) measured side by side")
    args = parser.parse_args()
    base = args.baseline.resolve() if args.baseline else None
    if base is not None and not Path(_riskmodel(base)).exists():
        parser.error(f"{_riskmodel(base)} does not exist: make the baseline's venv first")
    tmp = Path(tempfile.mkdtemp(prefix="bench-start-"))
    names = [*MEASURES, *(f"base {m}" for m in MEASURES if m != "echo" and base)]
    times: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    loads = []

    def timed(name: str, measure) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        times[name].append(measure())
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)

    def checkout(root: Path, prefix: str, r: int) -> None:
        timed(prefix + "serve", lambda: serve_time(tmp, echo=False, root=root))
        timed(prefix + "help", lambda: run_time(tmp, ["--help"], root))
        timed(prefix + "score10", lambda: run_time(
            tmp, ["score", "--in", str(plans), "--out", str(tmp / f"out{r}.csv")], root))

    try:
        plans = ten_rows(tmp)
        for root in (ROOT, base) if base else (ROOT,):  # warm the caches
            run_time(tmp, ["score", "--in", str(plans), "--out", str(tmp / "warm.csv")], root)
        for r in range(args.rounds):
            loads.append(os.getloadavg()[0])
            turns = [(ROOT, "")] + ([(base, "base ")] if base else [])
            for root, prefix in turns if r % 2 == 0 else turns[::-1]:
                checkout(root, prefix, r)
            timed("echo", lambda: serve_time(tmp, echo=True))
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
    print(f"  serve / echo (median of ratios)  {_ratio(times, 'serve', 'echo'):.2f}"
          f"   [bar ≤ 1.5]   cpu {mc['serve'] / mc['echo']:.2f}")
    print(f"  riskmodel --help                 {med['help']:.3f} s   [bar ≤ 0.3 s]"
          f"   cpu {mc['help']:.3f} s")
    print(f"  riskmodel score, 10 rows         {med['score10']:.3f} s   [bar ≤ 1.0 s]"
          f"   cpu {mc['score10']:.3f} s")
    if base:
        print(f"\nbaseline {base}, medians, and ours / baseline (median of per-round ratios):")
        for m in ("serve", "help", "score10"):
            print(f"  {m:8} baseline {med['base ' + m]:.3f} s (cpu {mc['base ' + m]:.3f})"
                  f"   ours / baseline {_ratio(times, m, 'base ' + m):.2f}"
                  f"   cpu {mc[m] / mc['base ' + m]:.2f}")
        print(f"  baseline serve / echo            {_ratio(times, 'base serve', 'echo'):.2f}")


def _ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))


if __name__ == "__main__":
    main()
