"""Batch scoring end to end: CSV -> CSV, rows/s and peak memory, 1 and 3 million rows.

    python benchmarks/bench_batch.py [--sizes 1000000 3000000] [--artifacts artifacts]

Ours: `riskmodel score --in plans.csv --out scored.csv` as a separate process (start-up,
validation, scoring, top-3 explanations, what-ifs, writing), with `--workers 1` (the
default: one process) and `--workers 2` (a local Dask cluster of 2). Memory: the peak of the
proportional set size (PSS) summed over the command and its workers, sampled every 20 ms
from /proc, so pages the forked Dask workers share are counted once. Baseline, side by side:
the same file copied through pandas in chunks of 100,000 (`read_csv(dtype=str)` + `to_csv`),
reading and writing only, nothing scored. The issue's bars: ≥ 100,000 rows/s for 1M rows,
and a peak that does not grow with the file. Rounds alternate ours and the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from riskmodel import SCHEMA
from training.synthetic import generate

BASELINE = """
import sys, pandas as pd
first = True
for chunk in pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False, chunksize=100_000):
    chunk.to_csv(sys.argv[2], mode="w" if first else "a", header=first, index=False)
    first = False
"""


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall time and peak PSS (MiB) summed over the process tree."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_pss_kib(p) for p in _tree(proc.pid)))
        time.sleep(0.02)
    elapsed = time.perf_counter() - t
    err = proc.stderr.read()
    if proc.returncode not in (0, 3):
        raise SystemExit(err.decode())
    return elapsed, peak / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--artifacts", default="artifacts")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as d:
        for n in args.sizes:
            src = Path(d) / f"plans-{n}.csv"
            for k, i in enumerate(range(0, n, 500_000)):
                part = generate(min(500_000, n - i), seed=i)[list(SCHEMA.names)]
                part.to_csv(src, mode="w" if k == 0 else "a", header=k == 0, index=False)
            del part
            score = [sys.executable, "-m", "commands", "score", "--artifacts",
                     args.artifacts, "--in", str(src), "--out", str(Path(d) / "scored.csv")]
            runs: dict[str, list[tuple[float, float]]] = {"default": [], "1": [], "copy": []}
            for _ in range(args.rounds):
                runs["default"].append(timed([*score, "--workers", "2"]))
                runs["copy"].append(timed([sys.executable, "-c", BASELINE, str(src),
                                           str(Path(d) / "copy.csv")]))
                runs["1"].append(timed([*score, "--workers", "1"]))
                for f in Path(d).glob("[sc]*.csv"):
                    f.unlink()
            print(f"{n:,} rows, {args.rounds} rounds (median; peak PSS is the largest seen):")
            for key, label in (("default", "riskmodel score --workers 2"),
                               ("1", "riskmodel score --workers 1"),
                               ("copy", "pandas read_csv + to_csv copy")):
                secs = statistics.median(t for t, _ in runs[key])
                peak = max(m for _, m in runs[key])
                print(f"  {label:32s} {secs:6.1f} s = {n / secs:9,.0f} rows/s, "
                      f"peak {peak:5.0f} MiB   (runs: "
                      f"{', '.join(f'{t:.1f}' for t, _ in runs[key])} s)")
            ratios = [a[0] / c[0] for a, c in zip(runs["default"], runs["copy"], strict=True)]
            print(f"  time ratio ours / copy, per round: "
                  f"{', '.join(f'{r:.2f}' for r in ratios)}")
            src.unlink()


if __name__ == "__main__":
    main()
