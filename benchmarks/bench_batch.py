"""Batch scoring end to end: CSV -> CSV, rows/s and peak memory, 1 and 3 million rows.

    python benchmarks/bench_batch.py [--sizes 1000000 3000000] [--artifacts artifacts]

Ours: `riskmodel score --in plans.csv --out scored.csv` as a separate process (start-up,
validation, scoring, top-3 explanations, what-ifs, writing), timed by /usr/bin/time for its
peak resident memory. Baseline, side by side: the same file copied through pandas in chunks
of 100,000 (`read_csv(dtype=str)` + `to_csv`) — reading and writing only, nothing scored.
The issue's bars: ≥ 100,000 rows/s for 1M rows, and a peak that does not grow with the file.
"""

from __future__ import annotations

import argparse
import re
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


def timed(cmd: list[str]) -> tuple[float, float]:
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 3):
        raise SystemExit(proc.stderr)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)[1])
    return elapsed, peak_kb / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000])
    ap.add_argument("--artifacts", default="artifacts")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as d:
        for n in args.sizes:
            src = Path(d) / f"plans-{n}.csv"
            parts = [generate(min(500_000, n - i), seed=i)[list(SCHEMA.names)]
                     for i in range(0, n, 500_000)]
            for k, part in enumerate(parts):
                part.to_csv(src, mode="w" if k == 0 else "a", header=k == 0, index=False)
            del parts
            ours, ours_peak = timed([sys.executable, "-m", "riskmodel.cli", "score",
                                     "--artifacts", args.artifacts, "--in", str(src),
                                     "--out", str(Path(d) / "scored.csv")])
            base, base_peak = timed([sys.executable, "-c", BASELINE, str(src),
                                     str(Path(d) / "copy.csv")])
            print(f"{n:>9,} rows: riskmodel score {ours:6.1f} s = {n / ours:9,.0f} rows/s, "
                  f"peak {ours_peak:6.0f} MiB | pandas copy {base:6.1f} s = "
                  f"{n / base:9,.0f} rows/s, peak {base_peak:6.0f} MiB | time ratio "
                  f"{ours / base:.2f}")
            for f in Path(d).glob("*.csv"):
                f.unlink()


if __name__ == "__main__":
    main()
