"""The issue-15 table: how a model splits goal misalignment between the goal score and the MOU.

    python benchmarks/interaction_table.py [--artifacts artifacts] [--version VERSION]

A deal of the day, materials on time, budget at 30% of the placements' value, half the KPI
targets agreed in writing; every other field from the first campaign of
``generate(1, seed=5)``; the MOU unsigned, signed and unknown. Prints each row's
contributions of goal_alignment_score and mou_signed (calibrated log-odds) and the risk.
"""

from __future__ import annotations

import argparse

from riskmodel import SCHEMA, load_model
from training.synthetic import generate


def campaign() -> dict:
    df = generate(1, seed=5)[list(SCHEMA.names)].astype(object)
    rec = df.where(df.notna(), None).to_dict("records")[0]
    rec.update(campaign_type="deal_of_the_day", material_delay_days=0.0,
               goal_alignment_score=0.5)
    rec["committed_ad_budget_usd"] = 0.3 * rec["resource_value_usd"]
    return rec


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--version", default=None)
    args = ap.parse_args()
    scorer = load_model(args.version, root=args.artifacts)
    print(f"model {scorer.version}, attribution {scorer.attribution}")
    print("| goal_alignment_score | mou_signed | goal_alignment_score's contribution "
          "| mou_signed's contribution | risk |")
    print("|---|---|---|---|---|")
    rec = campaign()
    for mou, word in ((False, "false"), (True, "true"), (None, "unknown")):
        [s] = scorer.score(dict(rec, mou_signed=mou))
        c = s.contributions
        print(f"| 0.5 | {word} | {c['goal_alignment_score']:+.2f} | {c['mou_signed']:+.2f} "
              f"| {s.failure_risk:.3f} |")


if __name__ == "__main__":
    main()
