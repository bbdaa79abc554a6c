"""Training time on 100,000 generated campaigns, against a baseline, side by side.

    python benchmarks/bench_train.py [--rows 100000] [--repeats 3]

Ours: the full `riskmodel train` pipeline (validate, three candidate families, calibration,
evaluation, model card and artifact). Baseline: scikit-learn's HistGradientBoostingClassifier
fitted once on the same training split (one-hot free: ordinal categoricals), no artifact.
Prints each run, the medians and the ratio. The issue's bar: under 60 s for ours.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from riskmodel import validate_campaigns
from riskmodel.features import FACTORS, factor_values
from training.synthetic import generate
from training.train import train


def baseline(path: Path) -> float:
    t = time.perf_counter()
    v = validate_campaigns(path, outcomes=True)
    b = v.batch
    X = np.column_stack([factor_values(b, f).astype(float) for f in FACTORS])
    y = b["failed"].astype(int)
    n = int(len(y) * 0.6)
    HistGradientBoostingClassifier(random_state=0).fit(X[:n], y[:n])
    return time.perf_counter() - t


def ours(path: Path) -> float:
    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        train(path, out=root, progress=False)
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "history.csv"
        generate(args.rows, seed=1, with_truth=True).to_csv(path, index=False)
        a, b = [], []
        for i in range(args.repeats):
            a.append(ours(path))
            b.append(baseline(path))
            print(f"run {i + 1}: riskmodel train {a[-1]:.1f} s, HGB baseline {b[-1]:.1f} s")
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"rows {args.rows}: median riskmodel train {ma:.1f} s (bar: < 60 s), "
          f"median HGB fit {mb:.1f} s, ratio {ma / mb:.2f}")


if __name__ == "__main__":
    main()
