"""One campaign and 300,000 campaigns, for the code and default model of one checkout.

    python benchmarks/bench_checkouts.py CHECKOUT

Prints the median time of ``Scorer.score(record, top_k=3)`` over 3,000 calls and the best of
two passes of ``explain_batch`` over 300,000 campaigns in chunks of 100,000. Run it for two
checkouts alternately (e.g. a worktree of main and this one) to compare them side by side
on a busy machine; the ratio is what to read, not the absolute figures.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np


def main() -> None:
    checkout = sys.argv[1]
    sys.path.insert(0, checkout)
    from riskmodel import SCHEMA, load_model, validate_campaigns
    from training.synthetic import generate

    scorer = load_model(root=f"{checkout}/artifacts")
    d = generate(500, seed=32)[list(SCHEMA.names)].astype(object)
    recs = d.where(d.notna(), None).to_dict("records")
    for r in recs[:100]:
        scorer.score(r)
    times = []
    for i in range(3000):
        r = recs[i % 500]
        t = time.perf_counter()
        scorer.score(r, top_k=3)
        times.append(time.perf_counter() - t)
    b = validate_campaigns(generate(300_000, seed=33)).batch
    chunks = [b.take(np.arange(i, min(i + 100_000, b.n))) for i in range(0, b.n, 100_000)]
    rates = []
    for _ in range(2):
        t = time.perf_counter()
        for c in chunks:
            scorer.explain_batch(c, top_k=3)
        rates.append(b.n / (time.perf_counter() - t))
    print(f"{checkout} ({scorer.version}): one campaign median "
          f"{statistics.median(times) * 1e6:.1f} us; explain_batch {max(rates):,.0f} rows/s")


if __name__ == "__main__":
    main()
