"""Monitoring over a million logged predictions, on SQLite and on PostgreSQL.

    python benchmarks/bench_monitor.py [--rows 1000000] [--outcomes 100000] [--rounds 3]
                                       [--only sqlite postgresql]

Builds a model (20,000 generated campaigns), then for each database a fresh store with
``--rows`` distinct campaigns logged (generated plans, a tenth of them from a world with
later materials, so something moved) and ``--outcomes`` of them closed (inserted directly
with their prediction, as ``record_outcomes`` would pin them), and times
``riskmodel.monitor`` over the whole log: median and each round, wall time and the CPU
time of this process (steadier on a shared machine; the database server's own work on
PostgreSQL is not in it), with the time of its parts (reading the log, reading the
outcomes). The issue's bar: ≤ 15 s on this machine.
PostgreSQL: the server at 127.0.0.1:5432 (trust auth); a database of its own, dropped after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riskmodel import SCHEMA, Store, load_model, load_reference, monitor  # noqa: E402
from training.synthetic import Shift, generate  # noqa: E402
from training.train import train  # noqa: E402

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_NAME = "riskmodel_bench_monitor"


def fill(store: Store, plans: pd.DataFrame, outcomes: pd.DataFrame, version: str) -> None:
    from sqlalchemy import insert, select

    from riskmodel.store import outcomes as outcomes_table
    from riskmodel.store import predictions

    start = datetime(2026, 8, 1, tzinfo=UTC)
    cols = list(SCHEMA.names)
    step = 50_000
    for i in range(0, len(plans), step):
        part = plans.iloc[i:i + step][cols].astype(object)
        records = part.where(part.notna(), None).to_dict("records")
        at = start + timedelta(hours=i // step)
        store.log_predictions([{"campaign_id": r["campaign_id"], "model_version": version,
                                "failure_risk": 0.3, "risk_band": "medium", "inputs": r,
                                "source": "bench", "request_id": None, "scored_at": at}
                               for r in records])
    with store.engine.begin() as conn:
        ids = dict(conn.execute(select(predictions.c.campaign_id, predictions.c.id)).all())
        now = datetime.now(UTC)
        rows = [{"campaign_id": c, "failed": bool(f), "completed_on": pd.Timestamp(d).date(),
                 "plan": None, "revision": 1, "recorded_at": now, "first_recorded_at": now,
                 "prediction_id": ids[c]}
                for c, f, d in zip(outcomes.campaign_id, outcomes.failed,
                                   outcomes.completed_on, strict=True)]
        for i in range(0, len(rows), step):
            conn.execute(insert(outcomes_table), rows[i:i + step])


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


def run(name: str, url: str, scorer, reference, plans, outcomes, rounds: int) -> list[float]:
    store = Store(url)
    store.migrate()
    t = time.perf_counter()
    fill(store, plans, outcomes, scorer.version)
    print(f"{name}: filled {store.prediction_count():,} rows, {store.outcome_count():,} "
          f"outcomes in {time.perf_counter() - t:.0f} s", flush=True)
    times, cpu = [], []
    for i in range(rounds):
        t0 = time.perf_counter()
        scored = store.scored_plans()
        t1 = time.perf_counter()
        frame = store.outcome_frame()
        t2, c2 = time.perf_counter(), time.process_time()
        result = monitor(store, scorer, reference)
        t3, c3 = time.perf_counter(), time.process_time()
        times.append(t3 - t2)
        cpu.append(c3 - c2)
        print(f"{name} round {i + 1}: monitor {t3 - t2:.2f} s wall, {c3 - c2:.2f} s CPU of "
              f"this process (alone: read log {t1 - t0:.2f} s for {len(scored):,} campaigns, "
              f"read outcomes {t2 - t1:.2f} s for {len(frame):,}); verdict "
              f"{result['verdict']}: {result['reasons'][:2]}", flush=True)
    store.dispose()
    print(f"{name}: median {statistics.median(times):.2f} s wall, "
          f"{statistics.median(cpu):.2f} s CPU, over {rounds} rounds [bar ≤ 15 s]; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--outcomes", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    print(f"training a model in {tmp}", flush=True)
    train(generate(20_000, seed=3), out=tmp / "artifacts", progress=False)
    scorer = load_model(root=tmp / "artifacts")
    reference = load_reference(tmp / "artifacts", scorer.version)
    moved = args.rows // 10
    plans = pd.concat([generate(args.rows - moved, seed=1, id_prefix="B"),
                       generate(moved, seed=2, id_prefix="M", shift=Shift(delay_days=10))],
                      ignore_index=True)
    pick = np.random.default_rng(0).choice(len(plans), args.outcomes, replace=False)
    outcomes = plans.iloc[np.sort(pick)]
    print(f"{len(plans):,} plans, {len(outcomes):,} outcomes generated", flush=True)
    if "sqlite" in args.only:
        run("sqlite", f"sqlite:///{tmp / 'store.sqlite3'}", scorer, reference, plans,
            outcomes, args.rounds)
    if "postgresql" in args.only:
        pg_admin(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{PG_NAME}"')
        try:
            run("postgresql", f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_NAME}",
                scorer, reference, plans, outcomes, args.rounds)
        finally:
            pg_admin(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
