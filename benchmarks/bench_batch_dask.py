"""Batch scoring on Dask beside the one-process engine, side by side in one run.

    python benchmarks/bench_batch_dask.py [--rounds 3] [--artifacts artifacts]
        [--parquet-rows 3000000] [--csv-rows 1000000] [--memory-rows 1000000 3000000]
        [--baseline /path/to/another/checkout] [--skip parquet csv memory]

Each configuration runs `riskmodel score` as a separate process (start-up, the cluster,
reading, validation, scoring, top-3 explanations, what-ifs, writing); rounds alternate the
configurations, and the figures are medians. Memory: the peak proportional set size (PSS)
summed over the command and its worker processes, sampled every 20 ms (bench_batch.py).
CPU: user + system seconds of the command and every process under it (the Dask workers
included), so CPU seconds per 100,000 rows show what the machine's cores can give at best.

1. Parquet -> Parquet, `--parquet-rows` rows (row groups of 100,000): the one-process
   engine (`--workers 1`) against a local Dask cluster of 2 workers (`--workers 2`),
   writing one file and writing a dataset (`--out folder/`).
2. CSV -> CSV, `--csv-rows` rows: one process against Dask with 2 workers.
With ``--baseline DIR`` (another checkout with its own ``.venv``, e.g. a worktree of main)
every configuration of 1 and 2 also runs with that checkout's code, in the same rounds, so
before and after are measured side by side under the same load.

3. Peak memory of Dask with 2 workers, CSV -> CSV and Parquet -> Parquet, at each of
   `--memory-rows` sizes: it should not grow with the file.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch import timed  # noqa: E402

from riskmodel import SCHEMA  # noqa: E402
from training.synthetic import generate  # noqa: E402


def _write(src: Path, n: int) -> None:
    """``n`` generated plans as CSV or Parquet (row groups of 100,000 rows)."""
    writer = None
    for k, i in enumerate(range(0, n, 500_000)):
        part = generate(min(500_000, n - i), seed=i)[list(SCHEMA.names)]
        if src.suffix == ".csv":
            part.to_csv(src, mode="w" if k == 0 else "a", header=k == 0, index=False)
        else:
            table = pa.Table.from_pandas(part, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(src, table.schema)
            writer.write_table(table, row_group_size=100_000)
    if writer is not None:
        writer.close()


def _clean(d: Path) -> None:
    for p in d.iterdir():
        if p.name.startswith(("scored", ".scored")):
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed_cpu(cmd: list[str]) -> tuple[float, float, float]:
    """Wall time, peak PSS (MiB) and CPU seconds of the process tree (reaped children)."""
    before = _cpu()
    secs, peak = timed(cmd)
    return secs, peak, _cpu() - before


def _compare(title: str, n: int, d: Path, src: Path, configs: dict[str, list[str]],
             base: list[str], rounds: int, baseline: list[str] | None = None
             ) -> dict[str, list[tuple[float, float, float]]]:
    """Each configuration ``rounds`` times, alternating; with ``baseline`` (the command of
    another checkout), each also as "main: ..." right after it."""
    commands = {k: [*base, "--in", str(src), *extra] for k, extra in configs.items()}
    if baseline is not None:
        commands = {k2: v2 for k, v in commands.items() for k2, v2 in (
            (k, v), (f"main: {k}", [*baseline, *v[len(base):]]))}
    runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in commands}
    loads = [os.getloadavg()[0]]
    for _ in range(rounds):
        for key, cmd in commands.items():
            runs[key].append(_timed_cpu(cmd))
            loads.append(os.getloadavg()[0])
            _clean(d)
    print(f"{title}: {n:,} rows, {rounds} rounds (median; peak PSS the largest seen); "
          f"load average (1 min) before and after each run: "
          f"{', '.join(f'{x:.1f}' for x in loads)}")
    for key, rs in runs.items():
        secs = statistics.median(t for t, _, _ in rs)
        cpu = statistics.median(c for _, _, c in rs)
        print(f"  {key:44s} {secs:6.1f} s = {n / secs:9,.0f} rows/s, peak "
              f"{max(m for _, m, _ in rs):5.0f} MiB, CPU {cpu:6.1f} s = "
              f"{cpu / n * 100_000:.2f} s per 100k rows  "
              f"(runs: {', '.join(f'{t:.1f}' for t, _, _ in rs)})")
    return runs


def _speedup(runs, a: str, b: str) -> str:
    """How many times the throughput of ``b`` is ``a``'s, per round (side by side)."""
    per = [x[0] / y[0] for x, y in zip(runs[a], runs[b], strict=True)]
    return (f"  {b} vs {a}: {statistics.median(per):.2f}x the throughput, median "
            f"(per round: {', '.join(f'{r:.2f}' for r in per)})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--parquet-rows", type=int, default=3_000_000)
    ap.add_argument("--csv-rows", type=int, default=1_000_000)
    ap.add_argument("--memory-rows", type=int, nargs="*", default=[1_000_000, 3_000_000])
    ap.add_argument("--skip", nargs="*", default=[], choices=["parquet", "csv", "memory"])
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another checkout (with its .venv) to run side by side, as 'main: ...'")
    args = ap.parse_args()
    artifacts = str(Path(args.artifacts).resolve())
    base = [sys.executable, "-m", "commands", "score", "--artifacts", artifacts]
    baseline = None
    if args.baseline is not None:  # run from its folder, so `-m commands` is its code
        root = args.baseline.resolve()
        baseline = ["env", "-C", str(root), str(root / ".venv" / "bin" / "python"), "-m",
                    "commands", "score", "--artifacts", artifacts]
    dask2 = ["--workers", "2"]  # a local Dask cluster of 2
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        d = Path(tmp)
        if "parquet" not in args.skip:
            src = d / "plans.parquet"
            _write(src, args.parquet_rows)
            out = ["--out", str(d / "scored.parquet")]
            runs = _compare("Parquet -> Parquet", args.parquet_rows, d, src, {
                "one process (--workers 1)": [*out, "--workers", "1"],
                "dask, 2 workers, one file": [*out, *dask2],
                "dask, 2 workers, dataset (--out folder/)":
                    ["--out", f"{d / 'scored'}/", *dask2],
            }, base, args.rounds, baseline)
            for pre in ("", "main: ") if baseline else ("",):
                print(_speedup(runs, f"{pre}one process (--workers 1)",
                               f"{pre}dask, 2 workers, one file"))
                print(_speedup(runs, f"{pre}one process (--workers 1)",
                               f"{pre}dask, 2 workers, dataset (--out folder/)"))
            src.unlink()
        if "csv" not in args.skip:
            src = d / "plans.csv"
            _write(src, args.csv_rows)
            out = ["--out", str(d / "scored.csv")]
            runs = _compare("CSV -> CSV", args.csv_rows, d, src, {
                "one process (--workers 1)": [*out, "--workers", "1"],
                "dask, 2 workers": [*out, *dask2],
            }, base, args.rounds, baseline)
            for pre in ("", "main: ") if baseline else ("",):
                print(_speedup(runs, f"{pre}one process (--workers 1)",
                               f"{pre}dask, 2 workers"))
            src.unlink()
        if "memory" not in args.skip:
            print("Peak memory of dask, 2 workers, by file size:")
            for kind in ("csv", "parquet"):
                for n in args.memory_rows:
                    src = d / f"plans.{kind}"
                    _write(src, n)
                    peaks = []
                    for _ in range(min(args.rounds, 2)):
                        peaks.append(timed([*base, "--in", str(src), "--out",
                                            str(d / f"scored.{kind}"), *dask2])[1])
                        _clean(d)
                    print(f"  {kind:8s} {n:>10,} rows: peak PSS {max(peaks):5.0f} MiB "
                          f"(runs: {', '.join(f'{m:.0f}' for m in peaks)})")
                    src.unlink()


if __name__ == "__main__":
    main()
