"""Do the explanations name the true causes? Prints the faithfulness of a model version.

    python benchmarks/bench_faithfulness.py [--artifacts artifacts] [--version V] [--rows 50000]

On generated campaigns (a seed the model never saw), two comparisons with the generator's
truth (training/faithfulness.py):

- by family: among campaigns with risk ≥ 0.5 whose true leading family leads the runner-up
  by at least 0.5 log-odds, the share whose reported top family is the true one (bar: 90%);
- by factor: among campaigns with true risk ≥ 0.5 whose true first factor (interventional
  Shapley value, ``true_factor_<name>``) leads the second by at least 0.5 log-odds, the
  share whose reported first factor is the true one (bar: 98%) and the mean absolute error
  of the reported top three contributions against the truth (bar: ≤ 0.10 log-odds).

Several ``--version`` values compare versions on the same generated data.
"""

from __future__ import annotations

import argparse

from riskmodel import load_model
from training.faithfulness import factor_faithfulness, faithfulness
from training.synthetic import generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--version", action="append", default=None,
                    help="a model version (repeatable); the current one by default")
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--details", action="store_true", help="print the confusion tables")
    args = ap.parse_args()
    df = generate(args.rows, seed=args.seed, with_truth=True)
    for version in args.version or [None]:
        scorer = load_model(version, root=args.artifacts)
        f = faithfulness(scorer, rows=args.rows, seed=args.seed)
        g = factor_faithfulness(scorer, df=df)
        print(f"model {scorer.version} (attribution {scorer.attribution}), "
              f"{args.rows:,} campaigns of seed {args.seed}:")
        print(f"  by family: {f.agree} of {f.eligible} ({f.rate:.1%}) have the true leading "
              "family as their top family (bar: 90%)")
        print(f"  by factor: {g.agree} of {g.eligible} clear cases ({g.rate:.1%}) have the "
              f"true first factor first (bar: 98%); top-three MAE {g.mae_top3:.3f} log-odds "
              "(bar: ≤ 0.10)")
        if args.details:
            for table in (f.confusion, g.confusion):
                for (true, reported), count in sorted(table.items(), key=lambda kv: -kv[1]):
                    mark = "" if true == reported else "   <- mismatch"
                    print(f"    true {true:<26} reported {reported:<26} {count:>6}{mark}")


if __name__ == "__main__":
    main()
