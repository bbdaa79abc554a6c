"""The store: what was predicted before launch, and what happened.

SQLAlchemy Core over SQLite by default (one file, WAL, synchronous=FULL, busy timeout) or
PostgreSQL when ``RISKMODEL_DATABASE_URL`` names one (the shared store of several service
replicas). The schema is created and upgraded by :meth:`Store.migrate` from the numbered
migrations below, recorded in ``schema_migrations`` — never by hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pandas as pd
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Insert,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine

from riskmodel.contract import FAILURE_REASONS, SCHEMA
from riskmodel.errors import RiskModelError

metadata = MetaData()

predictions = Table(
    "predictions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(128), nullable=False, index=True),
    Column("model_version", String(64), nullable=False),
    Column("failure_risk", Float, nullable=False),
    Column("risk_band", String(8), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("source", String(16), nullable=False),
    Column("request_id", String(128)),
    Column("scored_at", DateTime(timezone=True), nullable=False),
)

outcomes = Table(
    "outcomes", metadata,
    Column("campaign_id", String(128), primary_key=True),
    Column("failed", Boolean, nullable=False),
    Column("failure_reason", String(32)),
    Column("completed_on", Date),
    Column("plan", JSON),  # the plan sent with the outcome when it was never scored
    Column("revision", Integer, nullable=False, default=1),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

outcome_history = Table(
    "outcome_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(128), nullable=False, index=True),
    Column("failed", Boolean, nullable=False),
    Column("failure_reason", String(32)),
    Column("completed_on", Date),
    Column("revision", Integer, nullable=False),
    Column("replaced_at", DateTime(timezone=True), nullable=False),
)

migrations_table = Table(
    "schema_migrations", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(128), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def _m1_initial(conn: Connection) -> None:
    for table in (predictions, outcomes, outcome_history):
        table.create(conn, checkfirst=True)


# Numbered, append-only: a new change is a new function at the end, never an edit.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "predictions, outcomes and outcome history", _m1_initial),
]


class OutcomeConflict(RiskModelError, ValueError):
    """An outcome that contradicts one already recorded (send it as a correction)."""

    def __init__(self, conflicts: list[dict]) -> None:
        self.conflicts = conflicts
        ids = ", ".join(c["campaign_id"] for c in conflicts[:5])
        super().__init__(f"{len(conflicts)} outcome(s) differ from the recorded ones "
                         f"({ids}); send them with \"correction\": true to replace")


class UnknownCampaign(RiskModelError, ValueError):
    """An outcome for a campaign never scored, sent without its plan."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        super().__init__(f"{len(ids)} outcome(s) for campaigns never scored and sent without "
                         f"their plan: {', '.join(ids[:5])}; attach the plan as \"plan\"")


@dataclass(frozen=True)
class OutcomeResult:
    campaign_id: str
    status: str  # "created", "unchanged" or "corrected"
    scored_before: bool
    revision: int


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


_INSERT_PREDICTION = (
    "INSERT INTO predictions (campaign_id, model_version, failure_risk, risk_band, inputs, "
    "source, request_id, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def _json_dumps(value: object) -> str:
    """JSON columns through orjson (a tenth of the stdlib's time per plan logged; a NaN is
    stored as null, which is valid JSON); what it cannot encode (non-string keys, integers
    beyond 64 bits) takes the stdlib's way."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _json_text(inputs: object) -> str:
    """A plan as JSON text: text already (the body as the client sent it) is kept."""
    return inputs if isinstance(inputs, str) else _json_dumps(inputs)


def _json_value(inputs: object) -> object:
    """A plan as the JSON column takes it: a mapping; JSON text is parsed."""
    return orjson.loads(inputs) if isinstance(inputs, str) else inputs


class Store:
    """Prediction log and outcomes, through one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kw: dict = {"future": True, "json_serializer": _json_dumps}
        if self.is_sqlite:
            kw["connect_args"] = {"timeout": 30, "isolation_level": None}
        else:
            kw.update(pool_pre_ping=True, pool_size=5, max_overflow=5)
        self.engine: Engine = create_engine(url, **kw)
        if self.is_sqlite:
            database = self.engine.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # pysqlite's own transaction handling is off (isolation_level=None); every
            # transaction starts with BEGIN IMMEDIATE, so writers queue on the busy timeout
            # instead of failing with "database is locked" on a lock upgrade
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql(
                "BEGIN IMMEDIATE"))

    # ------------------------------------------------------------------ schema

    def migrate(self) -> list[int]:
        """Apply the migrations not yet applied; return their numbers."""
        applied = []
        with self.engine.begin() as conn:
            if not self.is_sqlite:  # replicas starting together migrate one at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(7461726973)"))
            migrations_table.create(conn, checkfirst=True)
            done = set(conn.scalars(select(migrations_table.c.version)))
            for number, name, step in MIGRATIONS:
                if number in done:
                    continue
                step(conn)
                conn.execute(insert(migrations_table).values(
                    version=number, name=name, applied_at=_now()))
                applied.append(number)
        return applied

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.max(migrations_table.c.version))) or 0)

    # ------------------------------------------------------------------ predictions

    def log_predictions(self, rows: Iterable[Mapping]) -> int:
        """Store scored campaigns: campaign_id, model_version, failure_risk, risk_band,
        inputs (the plan as sent: a mapping, or its JSON text as the client sent it),
        source, request_id; one transaction."""
        now = _now()
        if self.is_sqlite:  # the embedded default, on every scored request: the driver's
            # executemany with the values as SQLAlchemy would store them, at half the cost
            dialect = self.engine.dialect
            stamp = predictions.c.scored_at.type.dialect_impl(dialect).bind_processor(
                dialect) or (lambda v: v)
            default = stamp(now)
            values = [(r["campaign_id"], r["model_version"], r["failure_risk"], r["risk_band"],
                       _json_text(r["inputs"]), r["source"], r.get("request_id"),
                       stamp(r["scored_at"]) if r.get("scored_at") else default)
                      for r in rows]
            if not values:
                return 0
            with self.engine.begin() as conn:
                conn.exec_driver_sql(_INSERT_PREDICTION, values)
            return len(values)
        records = [dict(r, inputs=_json_value(r["inputs"]), scored_at=r.get("scored_at") or now)
                   for r in rows]
        if not records:
            return 0
        with self.engine.begin() as conn:
            conn.execute(insert(predictions), records)
        return len(records)

    def predictions_for(self, campaign_id: str) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(predictions).where(
                predictions.c.campaign_id == campaign_id).order_by(predictions.c.id))
            return [dict(r._mapping) for r in rows]

    # ------------------------------------------------------------------ outcomes

    def record_outcomes(self, items: list[Mapping]) -> list[OutcomeResult]:
        """Record outcomes, all or nothing.

        Each item: ``campaign_id``, ``failed``, optional ``failure_reason``,
        ``completed_on``, ``correction`` and ``plan``. The same outcome twice is stored once
        and answered the same; a different one for a closed campaign raises
        :class:`OutcomeConflict` unless sent as a correction; an outcome for a campaign never
        scored needs its ``plan`` (else :class:`UnknownCampaign`).
        """
        now = _now()
        results, conflicts, unknown = [], [], []
        with self.engine.begin() as conn:
            for item in items:
                cid = item["campaign_id"]
                new = {"failed": bool(item["failed"]),
                       "failure_reason": item.get("failure_reason"),
                       "completed_on": _date(item.get("completed_on"))}
                scored = conn.execute(select(func.count()).select_from(predictions).where(
                    predictions.c.campaign_id == cid)).scalar_one() > 0
                if not scored and not item.get("plan"):
                    unknown.append(cid)
                    continue
                current = conn.execute(select(outcomes).where(
                    outcomes.c.campaign_id == cid)).first()
                if current is None:
                    # RETURNING, not rowcount: drivers report -1 for ON CONFLICT DO NOTHING
                    inserted = conn.execute(_insert_ignore(self, outcomes).values(
                        campaign_id=cid, plan=None if scored else dict(item["plan"]),
                        revision=1, recorded_at=now, **new).returning(
                        outcomes.c.campaign_id)).first()
                    if inserted is not None:
                        results.append(OutcomeResult(cid, "created", scored, 1))
                        continue
                    # a racing writer stored it first: its row is there to compare with
                    current = conn.execute(select(outcomes).where(
                        outcomes.c.campaign_id == cid)).one()
                old = {k: getattr(current, k) for k in new}
                if old == new:
                    results.append(OutcomeResult(cid, "unchanged", scored, current.revision))
                elif item.get("correction"):
                    conn.execute(insert(outcome_history).values(
                        campaign_id=cid, revision=current.revision, replaced_at=now, **old))
                    conn.execute(update(outcomes).where(outcomes.c.campaign_id == cid).values(
                        revision=current.revision + 1, recorded_at=now, **new))
                    results.append(OutcomeResult(cid, "corrected", scored,
                                                 current.revision + 1))
                else:
                    conflicts.append({"campaign_id": cid, "recorded": _jsonable(old),
                                      "received": _jsonable(new)})
            if unknown:
                raise UnknownCampaign(unknown)
            if conflicts:
                raise OutcomeConflict(conflicts)
        return results

    def outcome_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(outcomes)).scalar_one())

    def training_frame(self) -> pd.DataFrame:
        """Every recorded outcome joined to the plan known before launch: the plan of the
        campaign's last prediction, or the plan sent with the outcome. Contract columns plus
        ``failed``, ``failure_reason``, ``completed_on``."""
        with self.engine.connect() as conn:
            last = (select(predictions.c.campaign_id, func.max(predictions.c.id).label("id"))
                    .group_by(predictions.c.campaign_id).subquery())
            rows = conn.execute(
                select(outcomes, predictions.c.inputs)
                .select_from(outcomes.outerjoin(last, last.c.campaign_id ==
                                                outcomes.c.campaign_id)
                             .outerjoin(predictions, predictions.c.id == last.c.id))
                .order_by(outcomes.c.completed_on, outcomes.c.campaign_id)).all()
        records = []
        for r in rows:
            plan = r.inputs if r.inputs is not None else r.plan
            if isinstance(plan, str):
                plan = json.loads(plan)
            rec = {c: plan.get(c) for c in SCHEMA.names}
            rec["campaign_id"] = r.campaign_id
            rec.update(failed=r.failed, failure_reason=r.failure_reason,
                       completed_on=r.completed_on.isoformat() if r.completed_on else None)
            records.append(rec)
        columns = list(SCHEMA.names) + ["failed", "failure_reason", "completed_on"]
        return pd.DataFrame.from_records(records, columns=columns)

    # ------------------------------------------------------------------ health

    def integrity_check(self) -> list[str]:
        """Problems found (empty when sound): SQLite's own check, and our invariants."""
        problems = []
        with self.engine.connect() as conn:
            if self.is_sqlite:
                result = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
                if result != ["ok"]:
                    problems += result
            bad = conn.scalar(select(func.count()).select_from(outcomes).where(
                outcomes.c.failure_reason.is_not(None)
                & outcomes.c.failure_reason.not_in(FAILURE_REASONS)))
            if bad:
                problems.append(f"{bad} outcomes have an unknown failure_reason")
            dup = conn.execute(text("SELECT campaign_id FROM outcomes GROUP BY campaign_id "
                                    "HAVING COUNT(*) > 1")).all()
            if dup:
                problems.append(f"{len(dup)} campaigns have more than one outcome")
        return problems

    def dispose(self) -> None:
        self.engine.dispose()


def _insert_ignore(store: Store, table: Table) -> Insert:
    """INSERT that does nothing if the key exists (racing writers store one row)."""
    if store.is_sqlite:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        return sqlite_insert(table).on_conflict_do_nothing(index_elements=["campaign_id"])
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert
    return postgresql_insert(table).on_conflict_do_nothing(index_elements=["campaign_id"])


def _now() -> datetime:
    return datetime.now(UTC)


def _date(value) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _jsonable(d: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in d.items()}
