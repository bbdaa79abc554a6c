"""The store: what was predicted before launch, and what happened.

SQLAlchemy Core over SQLite by default (one file, WAL, synchronous=FULL, busy timeout) or
PostgreSQL when ``RISKMODEL_DATABASE_URL`` names one (the shared store of several service
replicas). The schema is created and upgraded by :meth:`Store.migrate` from the numbered
migrations below, recorded in ``schema_migrations`` — never by hand.

A SQLite store is one file, known by its identity (device and inode) from the moment it is
opened: a file deleted, moved away or replaced under a running process is noticed before
each write (one ``stat``), and the write is refused with :class:`StoreUnavailable` instead of
going into a file nobody will read again; connections never create the file behind the
store's back (``mode=rw``). A store that does not exist is created only when asked
(``create=True``); readers pass ``create=False`` and get :class:`StoreMissing`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np
import orjson
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
    Text,
    case,
    cast,
    create_engine,
    event,
    extract,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from riskmodel.contract import FAILURE_REASONS, SCHEMA
from riskmodel.errors import (  # defined there, without SQLAlchemy; the same names here
    OutcomeConflict,
    RiskModelError,
    StoreMissing,
    StoreUnavailable,
    UnknownCampaign,
)
from riskmodel.storefile import check_store_file, open_store_file, store_file

if TYPE_CHECKING:
    import pandas as pd

metadata = MetaData()

# One row per distinct plan of a campaign per UTC day it was scored (migration 3): how
# often, when first and last (``scored_at``), and the model version, risk, band, source and
# request of its latest scoring. The day in the key keeps the outcome join exact (see
# plan_logged_before): every limit it compares with is the start of a UTC day.
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
    Column("scored_at", DateTime(timezone=True), nullable=False),  # the last time
    Column("first_scored_at", DateTime(timezone=True)),  # migration 3
    Column("times_scored", Integer),  # migration 3
    Column("plan_key", String(32)),  # migration 3: a hash of the plan's canonical JSON
    Column("scored_on", Date),  # migration 3: the UTC day of first and last scoring
)

outcomes = Table(
    "outcomes", metadata,
    Column("campaign_id", String(128), primary_key=True),
    Column("failed", Boolean, nullable=False),
    Column("failure_reason", String(32)),
    Column("completed_on", Date),
    # the plan sent with the outcome: the training row's plan (None is SQL NULL: schema 1
    # stored JSON null, which migration 2 turns into NULL)
    Column("plan", JSON(none_as_null=True)),
    Column("revision", Integer, nullable=False, default=1),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # migration 2: the logged prediction whose plan is the training row when no plan was
    # sent, chosen when the outcome is recorded (see plan_logged_before); and when the
    # outcome was first recorded, the latest a correction may look for that plan
    Column("prediction_id", Integer),
    Column("first_recorded_at", DateTime(timezone=True)),
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
    Column("plan", JSON(none_as_null=True)),  # migration 2
    Column("prediction_id", Integer),  # migration 2
)

migrations_table = Table(
    "schema_migrations", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(128), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def _m1_initial(conn: Connection) -> None:
    # the tables as they were at migration 1, frozen here: the tables above carry the
    # columns later migrations add, which those migrations create
    v1 = MetaData()
    Table("predictions", v1,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("campaign_id", String(128), nullable=False, index=True),
          Column("model_version", String(64), nullable=False),
          Column("failure_risk", Float, nullable=False),
          Column("risk_band", String(8), nullable=False),
          Column("inputs", JSON, nullable=False),
          Column("source", String(16), nullable=False),
          Column("request_id", String(128)),
          Column("scored_at", DateTime(timezone=True), nullable=False))
    Table("outcomes", v1,
          Column("campaign_id", String(128), primary_key=True),
          Column("failed", Boolean, nullable=False),
          Column("failure_reason", String(32)),
          Column("completed_on", Date),
          Column("plan", JSON),
          Column("revision", Integer, nullable=False, default=1),
          Column("recorded_at", DateTime(timezone=True), nullable=False))
    Table("outcome_history", v1,
          Column("id", Integer, primary_key=True, autoincrement=True),
          Column("campaign_id", String(128), nullable=False, index=True),
          Column("failed", Boolean, nullable=False),
          Column("failure_reason", String(32)),
          Column("completed_on", Date),
          Column("revision", Integer, nullable=False),
          Column("replaced_at", DateTime(timezone=True), nullable=False))
    v1.create_all(conn, checkfirst=True)


def _add_column(conn: Connection, table: Table, name: str) -> None:
    type_sql = table.c[name].type.compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {type_sql}"))


def _m2_outcome_plans(conn: Connection) -> None:
    """Each outcome keeps the prediction whose plan it trains on; outcomes recorded before
    get it now, by the same rule, looking only at what was logged before they were
    recorded."""
    _add_column(conn, outcomes, "prediction_id")
    _add_column(conn, outcomes, "first_recorded_at")
    _add_column(conn, outcome_history, "plan")
    _add_column(conn, outcome_history, "prediction_id")
    # a corrected outcome's first recording is older than its earliest replacement
    first_replaced = (select(func.min(outcome_history.c.replaced_at))
                      .where(outcome_history.c.campaign_id == outcomes.c.campaign_id)
                      .scalar_subquery())
    conn.execute(update(outcomes).values(
        first_recorded_at=func.coalesce(first_replaced, outcomes.c.recorded_at)))
    rows = conn.execute(select(outcomes.c.campaign_id, outcomes.c.completed_on,
                               outcomes.c.first_recorded_at, outcomes.c.plan)).all()
    for cid, completed_on, first, plan in rows:
        if plan is not None:
            continue
        # schema 1 stored "no plan" as JSON null: NULL now, so SQL can tell it apart
        chosen = _plan_logged_before_v2(conn, cid, completed_on, _utc(first))
        conn.execute(update(outcomes).where(outcomes.c.campaign_id == cid)
                     .values(plan=None, prediction_id=chosen))


def _plan_logged_before_v2(conn: Connection, campaign_id: str, completed_on: date | None,
                           recorded_at: datetime) -> int | None:
    """:func:`plan_logged_before` as migration 2 applied it, on the table of schema 2 (one
    row per scoring), frozen with it."""
    limit = recorded_at
    if completed_on is not None:
        limit = min(limit, _day_start(completed_on))
    old = predictions.c
    latest = (select(old.id).where(old.campaign_id == campaign_id, old.scored_at < limit)
              .order_by(old.scored_at.desc(), old.id.desc()).limit(1))
    if completed_on is not None:
        launched = conn.execute(latest.where(
            _epoch(conn, old.scored_at) + _duration_days(conn) * 86400
            < limit.timestamp())).scalar()
        if launched is not None:
            return int(launched)
    found = conn.execute(latest).scalar()
    return None if found is None else int(found)


def _m3_one_row_per_plan(conn: Connection) -> None:
    """The prediction log keeps one row per distinct plan of a campaign per UTC day: rows
    logged before are merged (their count, first and last time; the latest scoring's
    model, risk and band), and outcomes pinned to a merged row follow it."""
    for name in ("first_scored_at", "times_scored", "plan_key", "scored_on"):
        _add_column(conn, predictions, name)
    c = predictions.c
    groups: dict[tuple, list] = {}
    rows = conn.execute(select(c.id, c.campaign_id, c.inputs, c.scored_at)
                        .order_by(c.id)).all()
    for pid, cid, inputs, at in rows:
        at = _utc(at)
        groups.setdefault((cid, plan_key(inputs), at.date()), []).append((at, pid))
    for (_, key, day), members in groups.items():
        members.sort()
        keep = min(pid for _, pid in members)
        last_id = members[-1][1]
        last = conn.execute(select(c.model_version, c.failure_risk, c.risk_band, c.source,
                                   c.request_id).where(c.id == last_id)).one()
        conn.execute(update(predictions).where(c.id == keep).values(
            first_scored_at=members[0][0], scored_at=members[-1][0],
            times_scored=len(members), plan_key=key, scored_on=day, **last._asdict()))
        merged = [pid for _, pid in members if pid != keep]
        for start in range(0, len(merged), 500):
            part = merged[start:start + 500]
            for table in (outcomes, outcome_history):
                conn.execute(update(table).where(table.c.prediction_id.in_(part))
                             .values(prediction_id=keep))
            conn.execute(predictions.delete().where(c.id.in_(part)))
    conn.execute(text("CREATE UNIQUE INDEX ix_predictions_plan ON predictions "
                      "(campaign_id, plan_key, scored_on)"))
    conn.execute(text("CREATE INDEX ix_predictions_scored_at ON predictions (scored_at)"))


# Numbered, append-only: a new change is a new function at the end, never an edit.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "predictions, outcomes and outcome history", _m1_initial),
    (2, "each outcome pinned to the plan it trains on", _m2_outcome_plans),
    (3, "one prediction row per distinct plan and day", _m3_one_row_per_plan),
]


def plan_key(inputs: object) -> str:
    """What makes two logged plans the same plan: a hash of the plan's JSON with its keys
    sorted (so the same campaign sent with its fields in another order or spacing is the
    same plan). ``inputs`` is a mapping or its JSON text."""
    value = orjson.loads(inputs) if isinstance(inputs, str | bytes) else inputs
    try:
        canonical = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        canonical = json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def plan_logged_before(conn: Connection, campaign_id: str, completed_on: date | None,
                       recorded_at: datetime) -> int | None:
    """The id of the logged prediction whose plan an outcome is joined to when it came
    without a plan: the last logged before the campaign's launch, else the last logged
    before its completion; never one logged later (nor after ``recorded_at``, when the
    outcome was first recorded). None when there is none.

    The contract has no launch date: launch is taken as the start (UTC) of ``completed_on``
    minus the plan's own ``duration_days``. A plan without a duration, or a campaign
    without ``completed_on``, has only the completion rule; without ``completed_on`` the
    limit is ``recorded_at``.

    A row holds one plan's scorings of one UTC day, and launch and completion are starts
    of UTC days, so a row is wholly before such a limit or wholly after it, and its last
    scoring orders it exactly. Only the ``recorded_at`` limit can fall inside a row's day:
    a row first scored before it counts, at its last scoring before it when that is known
    (its last scoring is), else at its first.
    """
    limit = recorded_at
    if completed_on is not None:
        limit = min(limit, _day_start(completed_on))
    c = predictions.c
    # when this row was last scored before the limit, as far as the row tells
    before = case((c.scored_at < limit, c.scored_at), else_=c.first_scored_at)
    latest = (select(c.id)
              .where(c.campaign_id == campaign_id, c.first_scored_at < limit)
              .order_by(before.desc(), c.id.desc())
              .limit(1))
    if completed_on is not None:
        launched = conn.execute(latest.where(
            _epoch(conn, c.scored_at) + _duration_days(conn) * 86400
            < limit.timestamp())).scalar()
        if launched is not None:
            return int(launched)
    found = conn.execute(latest).scalar()
    return None if found is None else int(found)


def _epoch(conn: Connection, column):
    """Seconds since 1970 of a timestamp column, in SQL."""
    if conn.dialect.name == "sqlite":  # stored as UTC text; julianday reads it
        return (func.julianday(column) - 2440587.5) * 86400.0
    return extract("epoch", column)


def _duration_days(conn: Connection):
    """The logged plan's ``duration_days`` when it is a number, else NULL, in SQL."""
    inputs = predictions.c.inputs
    if conn.dialect.name == "sqlite":
        return case((func.json_type(inputs, "$.duration_days").in_(["integer", "real"]),
                     func.json_extract(inputs, "$.duration_days")))
    return case((func.json_typeof(inputs["duration_days"]) == "number",
                 inputs["duration_days"].as_float()))


@dataclass(frozen=True)
class OutcomeResult:
    campaign_id: str
    status: str  # "created", "unchanged" or "corrected"
    scored_before: bool
    revision: int


# seconds a connection waits for a lock held by another (SQLite's busy timeout), and asks
# again for WAL mode while other connections are switching a new file to it
BUSY_SECONDS = 30


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
    wal_mode(cur)
    cur.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def wal_mode(cur, seconds: float = BUSY_SECONDS, pause: Callable[[float], None] | None = None
             ) -> str:
    """Put the SQLite file of cursor ``cur`` in WAL mode (kept in the file); the mode it is
    in. Connections opening a new file together (replicas starting at once) can be told
    "database is locked" at once, without SQLite waiting on the busy timeout, while
    another switches the file or sets up its WAL index: seen in 1 of about 10 starts of
    four processes under load. Such a connection asks again, pausing 5 ms and up to
    100 ms between tries, for at most ``seconds``; any other error, or one past the limit,
    is raised."""
    import sqlite3
    import time

    pause = pause or time.sleep
    deadline = time.monotonic() + seconds
    wait = 0.005
    while True:
        try:
            return cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
        pause(wait)
        wait = min(wait * 2, 0.1)


# One row per distinct plan and UTC day: a plan scored again counts one more scoring; the
# right-hand sides read the row as it was, so the latest scoring's figures win.
_LATEST = ("{c} = CASE WHEN excluded.scored_at >= predictions.scored_at "
           "THEN excluded.{c} ELSE predictions.{c} END")
_UPSERT_PREDICTION = (
    "INSERT INTO predictions (campaign_id, model_version, failure_risk, risk_band, inputs, "
    "source, request_id, scored_at, first_scored_at, times_scored, plan_key, scored_on) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (campaign_id, plan_key, scored_on) DO UPDATE SET "
    + ", ".join([_LATEST.format(c=c) for c in ("model_version", "failure_risk", "risk_band",
                                                "source", "request_id")]
                + ["times_scored = predictions.times_scored + excluded.times_scored",
                   "first_scored_at = min(predictions.first_scored_at, "
                   "excluded.first_scored_at)",
                   "scored_at = max(predictions.scored_at, excluded.scored_at)"]))


def _postgresql_upsert():
    """:data:`_UPSERT_PREDICTION` for PostgreSQL, through SQLAlchemy."""
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    stmt = postgresql_insert(predictions)
    new, old = stmt.excluded, predictions.c
    later = new.scored_at >= old.scored_at
    latest = {c: case((later, new[c]), else_=old[c])
              for c in ("model_version", "failure_risk", "risk_band", "source", "request_id")}
    return stmt.on_conflict_do_update(
        index_elements=["campaign_id", "plan_key", "scored_on"],
        set_=dict(latest, times_scored=old.times_scored + new.times_scored,
                  first_scored_at=func.least(old.first_scored_at, new.first_scored_at),
                  scored_at=func.greatest(old.scored_at, new.scored_at)))


def _merge_scorings(rows: Iterable[Mapping], now: datetime) -> tuple[dict, int]:
    """Scorings grouped by (campaign_id, plan key, UTC day): first and last time, count,
    the latest scoring's row and the plan; and how many scorings there were."""
    merged: dict[tuple, list] = {}
    keys: dict[str, str] = {}  # a body sent again and again is hashed once
    utc: dict[int, datetime] = {}  # rows of one request share one time: convert once
    n = 0
    for r in rows:
        n += 1
        at = r.get("scored_at") or now
        when = utc.get(id(at))
        if when is None:
            when = utc[id(at)] = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
        inputs = r["inputs"]
        if isinstance(inputs, str):
            key = keys.get(inputs)
            if key is None:
                key = keys[inputs] = plan_key(inputs)
        else:
            key = plan_key(inputs)
        group = (r["campaign_id"], key, when.date())
        m = merged.get(group)
        if m is None:
            merged[group] = [when, when, 1, r, inputs]
            continue
        m[2] += 1
        if when < m[0]:
            m[0] = when
        if when >= m[1]:
            m[1], m[3] = when, r
    return merged, n


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
    """Prediction log and outcomes, through one SQLAlchemy engine.

    Parameters
    ----------
    url : str
        SQLAlchemy URL. A SQLite file path is made absolute once, here (``url`` and
        ``path`` hold the absolute form).
    create : bool
        Create the store when it does not exist (its SQLite file, its tables). Readers pass
        ``False``: a missing file, or a database without the store's tables, raises
        :class:`StoreMissing` naming where it looked.
    file_id : (int, int), optional
        The device and inode the SQLite file must have (a running service passes the one
        it started with, so every worker refuses the same replacement); with it, a missing
        file is :class:`StoreMissing`, never created. Default: the file's identity now.

    Examples
    --------
    >>> store = Store("sqlite:////srv/riskmodel/var/riskmodel.sqlite3")  # doctest: +SKIP
    >>> store.migrate()  # doctest: +SKIP
    [1, 2]
    """

    def __init__(self, url: str, *, create: bool = True,
                 file_id: tuple[int, int] | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.create = create
        self.path: Path | None = None
        self.file_id: tuple[int, int] | None = None
        self.last_error: str | None = None  # why the last database operation failed
        target: str | URL = url
        if self.is_sqlite:
            # the file as `riskmodel serve` pins it, by the same rule (riskmodel/storefile.py)
            self.path = store_file(url)
            if self.path is not None:
                parsed = make_url(url)
                self.url = parsed.set(database=str(self.path)).render_as_string(
                    hide_password=False)
                # a file pinned by its identity is never made anew: a new one is not it
                opened = open_store_file(self.path, create and file_id is None)
                self.file_id = file_id or opened
                # connections open the file that exists and never create one: a store
                # whose file vanished must not come back empty under the same name
                target = parsed.set(database=f"file:{_uri_path(self.path)}",
                                    query={**parsed.query, "mode": "rw", "uri": "true"})
        kw: dict = {"future": True, "json_serializer": _json_dumps}
        if self.is_sqlite:
            kw["connect_args"] = {"timeout": BUSY_SECONDS, "isolation_level": None}
        else:
            kw.update(pool_pre_ping=True, pool_size=5, max_overflow=5)
        self.engine: Engine = create_engine(target, **kw)
        self.location = str(self.path) if self.path else \
            self.engine.url.render_as_string(hide_password=True)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # pysqlite's own transaction handling is off (isolation_level=None); every
            # transaction starts with BEGIN IMMEDIATE, so writers queue on the busy timeout
            # instead of failing with "database is locked" on a lock upgrade
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql(
                "BEGIN IMMEDIATE"))

    # ------------------------------------------------------------------ availability

    def check(self, writing: bool = True) -> None:
        """Raise :class:`StoreUnavailable` if the SQLite file this store opened has
        vanished, was replaced by another file, or (``writing``) cannot be written. One
        ``stat`` (and one ``access``); no database I/O. A no-op for other databases."""
        if self.path is not None:
            check_store_file(self.path, self.file_id, writing)

    def health(self) -> str | None:
        """Why the store cannot take writes now (its file, see :meth:`check`, or the last
        database operation's failure), or None. No database I/O."""
        try:
            self.check()
        except StoreUnavailable as e:
            return e.reason
        return self.last_error

    @contextmanager
    def _database(self, writing: bool = False) -> Iterator[None]:
        """Database failures (unreachable, read-only, locked past the busy timeout) as
        :class:`StoreUnavailable`; a write also checks the file before and after."""
        if writing:
            self.check()
        try:
            yield
        except OperationalError as e:
            self.last_error = _first_line(e.orig)
            raise StoreUnavailable(self.location, self.last_error) from e
        except DBAPIError as e:
            if not e.connection_invalidated:
                raise
            self.last_error = _first_line(e.orig)
            raise StoreUnavailable(self.location, self.last_error) from e
        if writing:
            # a file deleted or replaced during the write took the write with it: not
            # acknowledged, so the caller retries when the store is back
            self.check(writing=False)
            self.last_error = None

    # ------------------------------------------------------------------ schema

    def migrate(self) -> list[int]:
        """Apply the migrations not yet applied; return their numbers.

        Looks first without writing, so an up-to-date store opens read-only too. With
        ``create=False`` a database without the store's tables raises
        :class:`StoreMissing` instead of becoming an empty store.
        """
        with self._database():
            with self.engine.connect() as conn:
                done = _applied(conn)
        if done is None and not self.create:
            raise StoreMissing(self.location, "it holds no store (no schema_migrations "
                                              "table), and this does not create one")
        if done is not None and {n for n, _, _ in MIGRATIONS} <= done:
            return []
        applied = []
        with self._database(writing=True), self.engine.begin() as conn:
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
        with self._database(), self.engine.connect() as conn:
            return int(conn.scalar(select(func.max(migrations_table.c.version))) or 0)

    # ------------------------------------------------------------------ predictions

    def log_predictions(self, rows: Iterable[Mapping]) -> int:
        """Store scored campaigns: campaign_id, model_version, failure_risk, risk_band,
        inputs (the plan as sent: a mapping, or its JSON text as the client sent it),
        source, request_id, and scored_at (when it was scored, an aware datetime; default
        now); one transaction. Returns how many scorings were stored.

        A plan already logged for its campaign on the same UTC day is not stored again: its
        row counts one more scoring (``times_scored``), keeps its first time and moves its
        last (``scored_at``), and takes the latest scoring's model version, risk, band,
        source and request id. Raises :class:`StoreUnavailable` when the store cannot take
        the rows (nothing is stored then)."""
        merged, n = _merge_scorings(rows, _now())
        if not merged:
            return 0
        # a fixed order: writers merging into the same rows take their locks alike
        items = sorted(merged.items(), key=lambda kv: kv[0])
        if self.is_sqlite:  # the embedded default: the driver's executemany, at half the
            # cost of SQLAlchemy's, with the values as SQLAlchemy would store them
            dialect = self.engine.dialect
            stamp = predictions.c.scored_at.type.dialect_impl(dialect).bind_processor(
                dialect) or (lambda v: v)
            values = [(cid, r["model_version"], r["failure_risk"], r["risk_band"],
                       _json_text(inputs), r["source"], r.get("request_id"), stamp(last),
                       stamp(first), count, key, day.isoformat())
                      for (cid, key, day), (first, last, count, r, inputs) in items]
            with self._database(writing=True), self.engine.begin() as conn:
                conn.exec_driver_sql(_UPSERT_PREDICTION, values)
            return n
        records = [{"campaign_id": cid, "model_version": r["model_version"],
                    "failure_risk": r["failure_risk"], "risk_band": r["risk_band"],
                    "inputs": _json_value(inputs), "source": r["source"],
                    "request_id": r.get("request_id"), "scored_at": last,
                    "first_scored_at": first, "times_scored": count, "plan_key": key,
                    "scored_on": day}
                   for (cid, key, day), (first, last, count, r, inputs) in items]
        with self._database(writing=True), self.engine.begin() as conn:
            conn.execute(_postgresql_upsert(), records)
        return n

    def prune_predictions(self, before: datetime) -> int:
        """Delete logged plans last scored before ``before`` whose campaign has no outcome
        and that no outcome (nor a replaced one) trains on: the retention of plans
        without outcomes. Returns how many rows went."""
        c = predictions.c
        pinned = select(outcomes.c.prediction_id).where(outcomes.c.prediction_id.is_not(None))
        replaced = select(outcome_history.c.prediction_id).where(
            outcome_history.c.prediction_id.is_not(None))
        closed = select(outcomes.c.campaign_id)
        with self._database(writing=True), self.engine.begin() as conn:
            done = conn.execute(predictions.delete().where(
                c.scored_at < before, c.campaign_id.not_in(closed), c.id.not_in(pinned),
                c.id.not_in(replaced)))
        return int(done.rowcount or 0)

    def prediction_count(self) -> int:
        """Rows of the prediction log (distinct plans per campaign and day)."""
        with self._database(), self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(predictions))
                       .scalar_one())

    def predictions_for(self, campaign_id: str) -> list[dict]:
        with self._database(), self.engine.connect() as conn:
            rows = conn.execute(select(predictions).where(
                predictions.c.campaign_id == campaign_id).order_by(predictions.c.id))
            return [dict(r._mapping) for r in rows]

    def scored_plans(self, since: datetime | None = None, until: datetime | None = None,
                     chunk: int = 100_000) -> pd.DataFrame:
        """The campaigns scored in ``[since, until)``, one row each: the plan it was last
        scored with in the window (a logged row whose scorings overlap the window), with
        ``scored_at`` (its last scoring, UTC) and ``failure_risk`` as logged. Contract
        columns (typed, see :func:`plans_frame`) plus those two.

        Read by ranges of ``chunk`` ids, each as a few long texts the database joins (the
        plans one per line, ids, times, risks): a million plans never become a million
        Python strings, and pyarrow reads the plans' JSON lines at once. A thread fetches
        the next range while this one is parsed (the database driver and pyarrow both let
        go of the GIL), and no range is sorted by the database: PostgreSQL sorted each
        LIMIT page of wide rows on disk; the rows are put in id order here."""
        import pandas as pd
        c = predictions.c
        if self.is_sqlite:
            epoch = (func.julianday(c.scored_at) - 2440587.5) * 86400.0
        else:
            epoch = extract("epoch", c.scored_at)
        rows = select(c.id, cast(c.inputs, Text).label("plan"), c.campaign_id,
                      epoch.label("epoch"), c.failure_risk)
        if since is not None:
            rows = rows.where(c.scored_at >= since)
        if until is not None:
            rows = rows.where(c.first_scored_at < until)

        def fetch(after: int) -> tuple:
            part = rows.where(c.id > after, c.id <= after + chunk).subquery()
            with self._database(), self.engine.connect() as conn:
                return tuple(conn.execute(select(
                    _joined(self, func.replace(part.c.plan, "\n", " "), "\n"),
                    _joined(self, part.c.campaign_id, "\n"),
                    _joined(self, cast(part.c.epoch, Text), ","),
                    _joined(self, _exact_text(self, part.c.failure_risk), ","),
                    _joined(self, cast(part.c.id, Text), ","),
                    func.count())).one())

        with self._database(), self.engine.connect() as conn:
            low, high = conn.execute(select(func.min(c.id), func.max(c.id))).one()
        reader, ids, numbers = PlanLines(), [], []
        if low is not None:
            starts = range(int(low) - 1, int(high), chunk)
            with ThreadPoolExecutor(1, thread_name_prefix="scored-plans") as pool:
                ahead = pool.submit(fetch, starts[0])
                for i in range(len(starts)):
                    found = ahead.result()
                    if i + 1 < len(starts):
                        ahead = pool.submit(fetch, starts[i + 1])
                    if not found[5]:
                        continue
                    got = found[1].split("\n")
                    if len(got) != int(found[5]):  # an id with a line break (never valid)
                        raise RiskModelError(
                            f"the prediction log holds a campaign_id with a line break "
                            f"after id {starts[i]}; it cannot be read")
                    reader.add(found[0])  # parsed while the next range is fetched
                    ids += got
                    numbers.append(np.array([found[k].split(",") for k in (4, 2, 3)],
                                            dtype=float))
        names = list(SCHEMA.names)
        if not ids:
            return pd.DataFrame(columns=names + ["scored_at", "failure_risk"])
        frame = reader.frame()
        row_id, times, risks = np.concatenate(numbers, axis=1)
        frame["campaign_id"] = np.array(ids, dtype=object)
        # julianday's float carries a few microseconds of noise: milliseconds are exact
        frame["scored_at"] = pd.to_datetime(times, unit="s", utc=True).round("ms")
        frame["failure_risk"] = risks
        if (np.diff(row_id) < 0).any():  # the database's own order within a range
            frame = frame.iloc[np.argsort(row_id, kind="stable")].reset_index(drop=True)
        # a campaign scored with several plans in the window: the one last scored
        repeated = frame["campaign_id"].duplicated(keep=False).to_numpy()
        if repeated.any():
            latest = frame.loc[repeated].sort_values("scored_at", kind="stable")
            dropped = latest.index[latest["campaign_id"].duplicated(keep="last").to_numpy()]
            frame = frame.drop(index=dropped)
        return frame.reset_index(drop=True)

    def outcome_frame(self, since: date | None = None,
                      until: date | None = None) -> pd.DataFrame:
        """The outcomes completed in ``[since, until)`` (either open; with neither, those
        without ``completed_on`` too), each with the plan it trains on — the rule of
        :meth:`training_frame` — as typed columns (see :func:`plans_frame`): contract
        columns plus ``failed`` and ``completed_on`` (ISO text)."""
        o, c = outcomes.c, predictions.c
        query = (select(o.campaign_id, o.failed, o.completed_on, cast(o.plan, Text),
                        cast(c.inputs, Text))
                 .select_from(outcomes.outerjoin(predictions, c.id == o.prediction_id))
                 .order_by(o.completed_on, o.campaign_id))
        if since is not None:
            query = query.where(o.completed_on >= since)
        if until is not None:
            query = query.where(o.completed_on < until)
        with self._database(), self.engine.connect() as conn:
            raw = [r for r in conn.execute(query).all() if (r[3] or r[4]) is not None]
        frame = plans_frame([r[3] if r[3] is not None else r[4] for r in raw])
        frame["campaign_id"] = [r[0] for r in raw]
        frame["failed"] = np.fromiter((bool(r[1]) for r in raw), dtype=bool, count=len(raw))
        frame["completed_on"] = [None if r[2] is None else str(r[2])[:10]
                                 for r in raw]
        return frame

    def unmatched_outcomes(self) -> list[str]:
        """Outcomes that never matched a logged prediction (recorded with the plan sent,
        or left without a plan), by campaign id."""
        with self._database(), self.engine.connect() as conn:
            return list(conn.scalars(select(outcomes.c.campaign_id)
                                     .where(outcomes.c.prediction_id.is_(None))
                                     .order_by(outcomes.c.campaign_id)))

    # ------------------------------------------------------------------ outcomes

    def record_outcomes(self, items: list[Mapping]) -> list[OutcomeResult]:
        """Record outcomes, all or nothing.

        Each item: ``campaign_id``, ``failed``, optional ``failure_reason``,
        ``completed_on``, ``correction`` and ``plan``. The same outcome twice is stored once
        and answered the same; a different one (a different plan included) for a closed
        campaign raises :class:`OutcomeConflict` unless sent as a correction.

        The training row's plan is fixed here, once: the ``plan`` sent, else the logged
        prediction :func:`plan_logged_before` chooses (``scored_before`` says whether there
        was one). Nothing logged later changes it; a correction chooses again, among what
        was logged before the outcome was first recorded. An outcome with neither raises
        :class:`UnknownCampaign`. :class:`StoreUnavailable` when the store cannot take it.
        """
        now = _now()
        results, conflicts, unknown = [], [], []
        with self._database(writing=True), self.engine.begin() as conn:
            for item in items:
                cid = item["campaign_id"]
                completed_on = _date(item.get("completed_on"))
                new = {"failed": bool(item["failed"]),
                       "failure_reason": item.get("failure_reason"),
                       "completed_on": completed_on}
                plan = dict(item["plan"]) if item.get("plan") else None
                current = conn.execute(select(outcomes).where(
                    outcomes.c.campaign_id == cid)).first()
                if current is None:
                    chosen = plan_logged_before(conn, cid, completed_on, now)
                    if chosen is None and plan is None:
                        unknown.append(cid)
                        continue
                    # RETURNING, not rowcount: drivers report -1 for ON CONFLICT DO NOTHING
                    inserted = conn.execute(_insert_ignore(self, outcomes).values(
                        campaign_id=cid, plan=plan, prediction_id=chosen, revision=1,
                        recorded_at=now, first_recorded_at=now, **new).returning(
                        outcomes.c.campaign_id)).first()
                    if inserted is not None:
                        results.append(OutcomeResult(cid, "created", chosen is not None, 1))
                        continue
                    # a racing writer stored it first: its row is there to compare with
                    current = conn.execute(select(outcomes).where(
                        outcomes.c.campaign_id == cid)).one()
                old = {k: getattr(current, k) for k in new}
                # a plan left out is the recorded one; a plan sent must be the recorded one
                same_plan = plan is None or plan == current.plan
                if old == new and same_plan:
                    results.append(OutcomeResult(cid, "unchanged",
                                                 current.prediction_id is not None,
                                                 current.revision))
                elif item.get("correction"):
                    first = _utc(current.first_recorded_at or current.recorded_at)
                    chosen = plan_logged_before(conn, cid, completed_on, first)
                    plan = plan if plan is not None else current.plan
                    if chosen is None and plan is None:
                        unknown.append(cid)
                        continue
                    conn.execute(insert(outcome_history).values(
                        campaign_id=cid, revision=current.revision, replaced_at=now,
                        plan=current.plan, prediction_id=current.prediction_id, **old))
                    conn.execute(update(outcomes).where(outcomes.c.campaign_id == cid).values(
                        revision=current.revision + 1, recorded_at=now, plan=plan,
                        prediction_id=chosen, **new))
                    results.append(OutcomeResult(cid, "corrected", chosen is not None,
                                                 current.revision + 1))
                else:
                    recorded, received = _jsonable(old), _jsonable(new)
                    if not same_plan:
                        recorded["plan"], received["plan"] = current.plan, plan
                    conflicts.append({"campaign_id": cid, "recorded": recorded,
                                      "received": received})
            if unknown:
                raise UnknownCampaign(unknown)
            if conflicts:
                raise OutcomeConflict(conflicts)
        return results

    def outcome_count(self) -> int:
        with self._database(), self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(outcomes)).scalar_one())

    def training_frame(self) -> pd.DataFrame:
        """Every recorded outcome joined to the plan fixed when it was recorded (see
        :meth:`record_outcomes`): the plan sent with it, else the plan of the prediction
        logged before the campaign's launch or completion. Contract columns plus
        ``failed``, ``failure_reason``, ``completed_on``. An outcome with no such plan
        (recorded before schema version 2, its campaign scored only later) is left out;
        :meth:`integrity_check` counts them."""
        with self._database(), self.engine.connect() as conn:
            rows = conn.execute(
                select(outcomes.c.campaign_id, outcomes.c.failed, outcomes.c.failure_reason,
                       outcomes.c.completed_on, outcomes.c.plan, predictions.c.inputs)
                .select_from(outcomes.outerjoin(
                    predictions, predictions.c.id == outcomes.c.prediction_id))
                .order_by(outcomes.c.completed_on, outcomes.c.campaign_id)).all()
        records = []
        for r in rows:
            plan = r.plan if r.plan is not None else r.inputs
            if plan is None:
                continue
            if isinstance(plan, str):
                plan = json.loads(plan)
            rec = {c: plan.get(c) for c in SCHEMA.names}
            rec["campaign_id"] = r.campaign_id
            rec.update(failed=r.failed, failure_reason=r.failure_reason,
                       completed_on=r.completed_on.isoformat() if r.completed_on else None)
            records.append(rec)
        columns = list(SCHEMA.names) + ["failed", "failure_reason", "completed_on"]
        import pandas as pd  # training's, not the service's

        return pd.DataFrame.from_records(records, columns=columns)

    # ------------------------------------------------------------------ health

    def integrity_check(self) -> list[str]:
        """Problems found (empty when sound): SQLite's own check, and our invariants."""
        problems = []
        with self._database(), self.engine.connect() as conn:
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
            planless = conn.scalar(select(func.count()).select_from(outcomes).where(
                outcomes.c.plan.is_(None) & outcomes.c.prediction_id.is_(None)))
            if planless:
                problems.append(f"{planless} outcomes have no plan logged before their "
                                f"campaign's completion and are left out of training; send "
                                f"them again with their plan and \"correction\": true")
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


def _applied(conn: Connection) -> set[int] | None:
    """The migrations recorded, or None when the database has no store's tables."""
    if not inspect(conn).has_table(migrations_table.name):
        return None
    return set(conn.scalars(select(migrations_table.c.version)))


def _uri_path(path: Path) -> str:
    """A path as the path of a ``file:`` URI (SQLite reads %-escapes there)."""
    return quote(str(path), safe="/")


def _first_line(error: BaseException | None) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives them back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _date(value) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _jsonable(d: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in d.items()}


class PlanLines:
    """Plans' JSON lines read by pyarrow's JSON reader block by block, as they arrive, into
    the contract's columns typed as validation reads fastest (numbers as floats, booleans
    as nullable booleans, text as arrow strings; absent or null fields empty). Plans it
    cannot read with those types (a number sent as text by an older client, say) take the
    slow way, value by value, all of them (:meth:`frame`)."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.tables: list | None = []  # None once a block could not be read typed

    def add(self, block: str) -> None:
        """Add a block of plans, one per line (a text without a line break inside a
        plan)."""
        import io

        import pyarrow as pa
        import pyarrow.json as pj

        self.blocks.append(block)
        if self.tables is None:
            return
        kinds = {"number": pa.float64(), "integer": pa.float64(), "boolean": pa.bool_()}
        schema = pa.schema([(c.name, kinds.get(c.kind, pa.string())) for c in SCHEMA.columns])
        options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        try:
            table = pj.read_json(io.BytesIO(block.encode()), parse_options=options)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            table = None
        if table is None or table.num_rows != block.count("\n") + 1:
            self.tables = None
        else:
            self.tables.append(table)

    def frame(self) -> pd.DataFrame:
        """The plans added, in order, as a frame of the contract's columns."""
        import pandas as pd
        import pyarrow as pa

        names = list(SCHEMA.names)
        if not self.blocks:
            return pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
        if self.tables is None:
            every = [t for b in self.blocks for t in b.split("\n")]
            return pd.DataFrame.from_records([orjson.loads(t) for t in every], columns=names)
        mapping = {pa.bool_(): pd.BooleanDtype(), pa.string(): pd.ArrowDtype(pa.string())}
        return pa.concat_tables(self.tables).select(names).to_pandas(types_mapper=mapping.get)


def plans_frame(texts: list[str], lines: bool = False) -> pd.DataFrame:
    """Plans' JSON texts as a frame of the contract's columns, typed as
    :class:`PlanLines` reads them. With ``lines``, each text is many plans already, one
    per line."""
    if lines:
        blocks = texts
    else:  # one plan per line: a plan sent pretty-printed is written again on one line
        blocks = ["\n".join(t if "\n" not in t else orjson.dumps(orjson.loads(t)).decode()
                             for t in texts)] if texts else []
    reader = PlanLines()
    for block in blocks:
        reader.add(block)
    return reader.frame()


def _exact_text(store: Store, value):
    """A float column as text that reads back as the same float. SQLite's CAST gives 15
    significant digits (a logged risk came back off in its last bits, and SQLite and
    PostgreSQL disagreed on a report's sums); its printf shows up to 16 unless given the
    ``!`` flag, and at 17 a few doubles near 1e300 still came back one bit off (of 200,000
    random ones; none in [0, 1]), at 18 none did. PostgreSQL's CAST is exact already (the
    shortest text that reads back the same)."""
    if store.is_sqlite:
        return func.printf("%!.18g", value)
    return cast(value, Text)


def _joined(store: Store, value, separator: str):
    """The values of a query's rows joined into one text by the database; every such
    column of one query joins its rows in the same order (one aggregate pass)."""
    if store.is_sqlite:
        return func.group_concat(value, separator)
    return func.string_agg(value, literal(separator, Text))
