"""Do the explanations name the true causes? Prints the faithfulness of a model version.

    python benchmarks/bench_faithfulness.py [--artifacts artifacts] [--rows 50000]

Among generated campaigns (a seed the model never saw) with risk ≥ 0.5 whose true leading
family leads the runner-up by at least 0.5 log-odds, the share whose reported top family
equals the true one. The issue's bar: at least 90%.
"""

from __future__ import annotations

import argparse

from riskmodel import load_model
from training.faithfulness import faithfulness


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=777)
    args = ap.parse_args()
    scorer = load_model(root=args.artifacts)
    f = faithfulness(scorer, rows=args.rows, seed=args.seed)
    print(f"model {scorer.version}: {f.agree} of {f.eligible} eligible campaigns "
          f"({f.rate:.1%}) have the true leading family as their top family (bar: 90%)")
    for (true, reported), count in sorted(f.confusion.items(), key=lambda kv: -kv[1]):
        mark = "" if true == reported else "   <- mismatch"
        print(f"  true {true:<22} reported {reported:<22} {count:>6}{mark}")


if __name__ == "__main__":
    main()
