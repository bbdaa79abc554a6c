import json
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
import store_processes
from conftest import read_only

from riskmodel.store import MIGRATIONS, OutcomeConflict, Store, UnknownCampaign

# before the completion dates the tests record (a plan is joined only if logged before)
EARLY = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def open_store(store_url):
    """Open migrated stores on the URL; every one is closed at the end of the test."""
    opened = []

    def make(migrate=True):
        s = Store(store_url)
        opened.append(s)
        if migrate:
            s.migrate()
        return s

    yield make
    for s in opened:
        s.dispose()


def _scored(store, cid="c1", at=EARLY, **plan):
    store.log_predictions([{"campaign_id": cid, "model_version": "v1", "failure_risk": 0.4,
                            "risk_band": "medium", "source": "test", "request_id": "r",
                            "scored_at": at,
                            "inputs": {"campaign_id": cid, "goal_alignment_score": 0.5,
                                       "material_delay_days": 3,
                                       "resource_value_usd": 10000,
                                       "committed_ad_budget_usd": 3000, **plan}}])


def test_migrations_are_versioned_and_idempotent(open_store):
    s = open_store(migrate=False)
    assert s.migrate() == [1, 2, 3]
    assert s.migrate() == []
    assert s.schema_version() == 3


def test_outcomes_are_idempotent_and_conflicts_refused(open_store):
    s = open_store()
    _scored(s)
    o = {"campaign_id": "c1", "failed": True, "failure_reason": "material_delay",
         "completed_on": "2026-10-01"}
    [a] = s.record_outcomes([o])
    [b] = s.record_outcomes([o])
    assert (a.status, b.status) == ("created", "unchanged") and a.scored_before
    with pytest.raises(OutcomeConflict) as info:
        s.record_outcomes([dict(o, failed=False, failure_reason=None)])
    assert info.value.conflicts[0]["recorded"]["failed"] is True
    [c] = s.record_outcomes([dict(o, failed=False, failure_reason=None, correction=True)])
    assert c.status == "corrected" and c.revision == 2
    assert s.outcome_count() == 1
    assert s.integrity_check() == []


def test_all_or_nothing(open_store):
    s = open_store()
    _scored(s, "c1")
    with pytest.raises(UnknownCampaign):
        s.record_outcomes([{"campaign_id": "c1", "failed": True},
                           {"campaign_id": "never", "failed": False}])
    assert s.outcome_count() == 0


def test_unscored_campaign_needs_its_plan_and_joins_it(open_store):
    s = open_store()
    plan = {"campaign_id": "p1", "goal_alignment_score": 0.9, "material_delay_days": -1,
            "resource_value_usd": 5000, "committed_ad_budget_usd": 2000}
    [r] = s.record_outcomes([{"campaign_id": "p1", "failed": False, "plan": plan}])
    assert r.status == "created" and not r.scored_before
    _scored(s, "c1")
    s.record_outcomes([{"campaign_id": "c1", "failed": True, "completed_on": "2026-02-01"}])
    frame = s.training_frame().set_index("campaign_id")
    assert frame.loc["p1", "goal_alignment_score"] == 0.9
    assert frame.loc["c1", "goal_alignment_score"] == 0.5  # the plan known before launch
    assert bool(frame.loc["c1", "failed"]) is True


def test_the_same_outcome_from_8_processes_is_stored_once(store_url, open_store):
    s = open_store()
    _scored(s)
    ctx = store_processes.context()
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=store_processes.post_same, args=(store_url, barrier, results))
             for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    for p in procs:  # never leave a stuck child behind
        if p.is_alive():
            p.kill()
    statuses = sorted(results.get(timeout=5) for _ in procs)
    assert statuses == ["created"] + ["unchanged"] * 7, statuses
    assert s.outcome_count() == 1
    assert s.integrity_check() == []


def test_four_processes_starting_at_once_migrate_one_at_a_time(store_url, open_store):
    """Replicas starting together on a new store: one applies the migrations, the others
    find them applied (on PostgreSQL they wait on an advisory lock; SQLite's write lock
    does the same); nothing is applied twice, nobody fails."""
    ctx = store_processes.context()
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=store_processes.migrate, args=(store_url, barrier, results))
             for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    for p in procs:  # never leave a stuck child behind
        if p.is_alive():
            p.kill()
    applied = sorted((results.get(timeout=5) for _ in procs), key=len)
    assert applied == [[]] * 3 + [[n for n, _, _ in MIGRATIONS]], applied
    s = open_store(migrate=False)
    assert s.schema_version() == MIGRATIONS[-1][0] and s.migrate() == []


def test_a_plan_logged_as_its_json_text_reads_back_as_the_plan(open_store):
    """The service logs one campaign as the body text it received: stored as that JSON on
    every backend, read back (and joined for retraining) as the same plan."""
    s = open_store()
    plan = {"campaign_id": "t1", "goal_alignment_score": 0.25, "mou_signed": False,
            "material_delay_days": 3, "note_free": None, "category": "home"}
    text = '{"campaign_id": "t1", "goal_alignment_score": 0.25, "mou_signed": false, ' \
           '"material_delay_days": 3, "note_free": null, "category": "home"}'
    row = {"campaign_id": "t1", "model_version": "v1", "failure_risk": 0.3,
           "risk_band": "low", "source": "api", "request_id": "r"}
    assert s.log_predictions([dict(row, inputs=text), dict(row, inputs=plan)]) == 2
    [logged] = s.predictions_for("t1")  # the same plan, however it was sent: one row
    assert logged["inputs"] == plan and logged["times_scored"] == 2


# ---------------------------------------------------------------- which plan trains


def _row(store, cid):
    frame = store.training_frame().set_index("campaign_id")
    return frame.loc[cid]


def test_the_plan_sent_with_an_outcome_is_its_training_row(open_store):
    s = open_store()
    _scored(s, "c1", goal_alignment_score=0.5)
    sent = {"campaign_id": "c1", "goal_alignment_score": 0.9, "material_delay_days": 0,
            "resource_value_usd": 8000, "committed_ad_budget_usd": 4000}
    [r] = s.record_outcomes([{"campaign_id": "c1", "failed": False, "plan": sent,
                              "completed_on": "2026-03-01"}])
    assert r.status == "created" and r.scored_before
    assert _row(s, "c1")["goal_alignment_score"] == 0.9


def test_an_outcome_joins_the_last_plan_logged_before_launch(open_store):
    """Launch = completed_on minus the plan's duration_days. A what-if during the run and
    a re-score after completion are never the training row; without a plan logged before
    launch (a campaign cancelled early), the last one before completion is."""
    s = open_store()
    done = datetime(2026, 6, 30, tzinfo=UTC)  # launch: 30 days earlier, 2026-05-31
    _scored(s, "c1", done - timedelta(days=45), duration_days=30, goal_alignment_score=0.6)
    _scored(s, "c1", done - timedelta(days=33), duration_days=30, goal_alignment_score=0.7)
    _scored(s, "c1", done - timedelta(days=10), duration_days=30, goal_alignment_score=0.1)
    _scored(s, "c1", done + timedelta(days=2), duration_days=30, goal_alignment_score=0.0)
    _scored(s, "c2", done - timedelta(days=10), duration_days=30, goal_alignment_score=0.3)
    _scored(s, "c2", done + timedelta(hours=1), duration_days=30, goal_alignment_score=0.0)
    s.record_outcomes([{"campaign_id": c, "failed": True, "failure_reason": "other",
                        "completed_on": "2026-06-30"} for c in ("c1", "c2")])
    assert _row(s, "c1")["goal_alignment_score"] == 0.7
    assert _row(s, "c2")["goal_alignment_score"] == 0.3


def test_scoring_after_the_outcome_never_changes_its_training_row(open_store):
    """What an open /v1/score call can do: log a plan for a campaign whose outcome is
    recorded. The training row stays the one chosen when the outcome was recorded — also
    through a correction, which chooses only among plans logged before that."""
    s = open_store()
    _scored(s, "c1", goal_alignment_score=0.5)  # no completed_on: the limit is recording
    s.record_outcomes([{"campaign_id": "c1", "failed": True, "failure_reason": "other"}])
    later = datetime.now(UTC) + timedelta(seconds=1)
    _scored(s, "c1", later, goal_alignment_score=0.01)
    _scored(s, "c1", later + timedelta(days=400), goal_alignment_score=0.02)
    assert _row(s, "c1")["goal_alignment_score"] == 0.5
    [c] = s.record_outcomes([{"campaign_id": "c1", "failed": False, "correction": True}])
    assert c.status == "corrected" and c.scored_before
    row = _row(s, "c1")
    assert row["goal_alignment_score"] == 0.5 and not row["failed"]


def test_an_outcome_scored_only_after_completion_needs_its_plan(open_store):
    s = open_store()
    _scored(s, "c1", datetime(2026, 7, 2, tzinfo=UTC))
    with pytest.raises(UnknownCampaign, match="never scored before"):
        s.record_outcomes([{"campaign_id": "c1", "failed": False,
                            "completed_on": "2026-07-01"}])
    assert s.outcome_count() == 0


def test_a_different_plan_for_a_recorded_outcome_is_a_conflict(open_store):
    s = open_store()
    _scored(s, "c1")
    o = {"campaign_id": "c1", "failed": True, "failure_reason": "other",
         "completed_on": "2026-03-01"}
    s.record_outcomes([o])
    plan = {"campaign_id": "c1", "goal_alignment_score": 0.2, "material_delay_days": 9,
            "resource_value_usd": 1000, "committed_ad_budget_usd": 10}
    with pytest.raises(OutcomeConflict) as info:
        s.record_outcomes([dict(o, plan=plan)])
    assert info.value.conflicts[0]["received"]["plan"] == plan
    [same] = s.record_outcomes([o])
    assert same.status == "unchanged"
    [fixed] = s.record_outcomes([dict(o, plan=plan, correction=True)])
    assert fixed.status == "corrected" and _row(s, "c1")["goal_alignment_score"] == 0.2


def test_migration_2_pins_outcomes_recorded_before_it(open_store, monkeypatch):
    """A store at schema 1 whose outcomes were joined to the latest prediction: upgrading
    pins each to the plan logged before its completion; one scored only afterwards is
    left out of training and named by the integrity check."""
    from sqlalchemy import insert

    import riskmodel.store as store_module

    s = open_store(migrate=False)
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
    assert s.migrate() == [1]
    _logged_at_schema_1(s, "c1", datetime(2026, 2, 1, tzinfo=UTC), goal_alignment_score=0.4)
    _logged_at_schema_1(s, "c1", datetime(2026, 9, 1, tzinfo=UTC), goal_alignment_score=0.0)
    _logged_at_schema_1(s, "c2", datetime(2026, 9, 1, tzinfo=UTC))
    recorded = datetime(2026, 9, 2, tzinfo=UTC)
    with s.engine.begin() as conn:  # the way schema 1 recorded them: no plan when scored
        for cid in ("c1", "c2"):
            conn.execute(insert(store_module.metadata.tables["outcomes"]).values(
                campaign_id=cid, failed=True, failure_reason="other",
                completed_on=datetime(2026, 8, 1).date(), plan=None, revision=1,
                recorded_at=recorded))
    monkeypatch.undo()
    assert s.migrate() == [2, 3]
    frame = s.training_frame().set_index("campaign_id")
    assert list(frame.index) == ["c1"] and frame.loc["c1", "goal_alignment_score"] == 0.4
    assert any("1 outcomes have no plan" in p for p in s.integrity_check())


def _logged_at_schema_1(store, cid, at, **plan):
    """A prediction as schema 1 and 2 logged it: one row per scoring, its columns only."""
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO predictions (campaign_id, model_version, failure_risk, risk_band, "
            "inputs, source, request_id, scored_at) VALUES "
            + ("(?, ?, ?, ?, ?, ?, ?, ?)" if store.is_sqlite else
               "(%s, %s, %s, %s, %s, %s, %s, %s)"),
            (cid, "v1", 0.4, "medium", json.dumps({"campaign_id": cid, "duration_days": 1,
                                                    "goal_alignment_score": 0.5, **plan}),
             "test", "r", at.replace(tzinfo=None) if store.is_sqlite else at))


# ---------------------------------------------------------------- one row per plan


def test_repeated_scorings_of_a_plan_are_one_row_with_their_count(open_store):
    """A load test or a planner re-scoring the same plan adds a count, not a row; another
    plan of the same campaign is a row of its own; the latest scoring's figures win."""
    s = open_store()
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    plan = {"campaign_id": "c1", "goal_alignment_score": 0.5}
    base = {"campaign_id": "c1", "risk_band": "low", "source": "api", "request_id": "r"}
    batch = [dict(base, model_version=f"v{i % 3}", failure_risk=i / 1000, inputs=plan,
                  scored_at=t0 + timedelta(seconds=i)) for i in range(500)]
    batch.reverse()  # arrival order does not matter: the latest scoring wins
    assert s.log_predictions(batch) == 500
    assert s.log_predictions([dict(base, model_version="v9", failure_risk=0.9,
                                   inputs=dict(reversed(plan.items())),
                                   scored_at=t0 - timedelta(hours=1))]) == 1
    s.log_predictions([dict(base, model_version="v1", failure_risk=0.2,
                            inputs=dict(plan, goal_alignment_score=0.9), scored_at=t0)])
    rows = sorted(s.predictions_for("c1"), key=lambda r: r["times_scored"])
    assert [r["times_scored"] for r in rows] == [1, 501]
    [other, same] = rows
    assert other["inputs"]["goal_alignment_score"] == 0.9
    assert same["model_version"] == "v1" and same["failure_risk"] == 0.499  # i = 499
    assert _aware(same["first_scored_at"]) == t0 - timedelta(hours=1)
    assert _aware(same["scored_at"]) == t0 + timedelta(seconds=499)
    assert s.prediction_count() == 2


def _aware(at):
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def test_a_million_requests_over_1000_campaigns_leave_1000_rows(open_store):
    """The issue's bar, at the store: 1,000,000 scorings of 1,000 campaigns, written the
    way the service's log writer writes them (batches of 5,000, one time per request)."""
    s = open_store()
    plans = [{"campaign_id": f"load-{i:04d}", "goal_alignment_score": i / 1000,
              "material_delay_days": 3} for i in range(1000)]
    texts = [json.dumps(p) for p in plans]
    t0 = datetime.now(UTC).replace(hour=1)
    total = 0
    for b in range(200):
        at = t0 + timedelta(seconds=b)
        batch = [{"campaign_id": plans[j % 1000]["campaign_id"], "model_version": "v1",
                  "failure_risk": 0.3, "risk_band": "low", "source": "api",
                  "request_id": None, "inputs": texts[j % 1000], "scored_at": at}
                 for j in range(b * 5000, (b + 1) * 5000)]
        total += s.log_predictions(batch)
    assert total == 1_000_000
    assert s.prediction_count() == 1000
    counts = {r["times_scored"] for r in s.predictions_for("load-0007")}
    assert counts == {1000}


def test_migration_3_merges_repeated_rows_and_keeps_outcomes_on_their_plan(open_store,
                                                                          monkeypatch):
    """A store at schema 2 (a row per scoring): upgrading merges repeated scorings of a
    plan on one day into one row, and an outcome pinned to a merged row follows it."""
    import riskmodel.store as store_module

    s = open_store(migrate=False)
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:2])
    assert s.migrate() == [1, 2]
    day = datetime(2026, 2, 1, 9, tzinfo=UTC)
    for minutes in (0, 5, 10):
        _logged_at_schema_1(s, "c1", day + timedelta(minutes=minutes))
    _logged_at_schema_1(s, "c1", day + timedelta(minutes=20), goal_alignment_score=0.8)
    _logged_at_schema_1(s, "c1", day + timedelta(days=1))  # another day: its own row
    _logged_at_schema_1(s, "c2", day)
    _logged_at_schema_1(s, "c2", day + timedelta(minutes=1), goal_alignment_score=0.3)
    _logged_at_schema_1(s, "c2", day + timedelta(minutes=2))
    with s.engine.begin() as conn:  # as schema 2 recorded them: pinned to a logged row
        p = store_module.predictions.c
        ids = {(r.campaign_id, r.scored_at.minute if r.scored_at.day == 1 else -1): r.id
               for r in conn.execute(sa.select(p.id, p.campaign_id, p.scored_at))}
        for cid, pinned_to in (("c1", ids["c1", 5]), ("c2", ids["c2", 2])):
            conn.execute(sa.insert(store_module.outcomes).values(
                campaign_id=cid, failed=True, completed_on=date(2026, 2, 3), plan=None,
                revision=1, recorded_at=day + timedelta(days=3), prediction_id=pinned_to,
                first_recorded_at=day + timedelta(days=3)))
    monkeypatch.undo()
    assert s.migrate() == [3]
    rows = s.predictions_for("c1")
    assert sorted(r["times_scored"] for r in rows) == [1, 1, 3]
    assert sorted(r["times_scored"] for r in s.predictions_for("c2")) == [1, 2]
    assert _row(s, "c1")["goal_alignment_score"] == 0.5  # the merged row it was pinned to
    assert _row(s, "c2")["goal_alignment_score"] == 0.5
    s.record_outcomes([{"campaign_id": "c1", "failed": False, "completed_on": "2026-02-02",
                        "correction": True}])  # chooses again, on the merged rows
    assert _row(s, "c1")["goal_alignment_score"] == 0.8
    assert s.integrity_check() == []


def test_retention_prunes_old_plans_without_outcomes_only(open_store):
    s = open_store()
    old, recent = datetime(2025, 1, 10, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
    for cid in ("kept-outcome", "pruned"):
        _scored(s, cid, old)
    _scored(s, "recent", recent)
    s.record_outcomes([{"campaign_id": "kept-outcome", "failed": False,
                        "completed_on": "2025-02-01"}])
    assert s.prune_predictions(datetime(2026, 1, 1, tzinfo=UTC)) == 1
    assert not s.predictions_for("pruned")
    assert s.predictions_for("kept-outcome") and s.predictions_for("recent")
    assert len(s.training_frame()) == 1


# ---------------------------------------------------------------- the file under the store

OUTCOME = {"campaign_id": "f1", "failed": False,
           "plan": {"campaign_id": "f1", "goal_alignment_score": 0.5, "material_delay_days": 1,
                    "resource_value_usd": 1000, "committed_ad_budget_usd": 100}}


@pytest.fixture
def file_store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'var' / 'riskmodel.sqlite3'}")
    store.migrate()
    yield store
    store.dispose()


def test_a_vanished_store_file_refuses_writes_until_it_is_back(file_store, tmp_path):
    """`git clean` or a temp cleaner removes the data folder under a running process:
    writes are refused (not acknowledged into a deleted file), no empty store appears in
    its place, and the same file moved back is used again."""
    from riskmodel.store import StoreUnavailable

    var, away = tmp_path / "var", tmp_path / "elsewhere"
    file_store.record_outcomes([OUTCOME])
    var.rename(away)
    with pytest.raises(StoreUnavailable, match="vanished"):
        file_store.record_outcomes([dict(OUTCOME, campaign_id="f2",
                                         plan=dict(OUTCOME["plan"], campaign_id="f2"))])
    with pytest.raises(StoreUnavailable):
        _scored(file_store, "f3")
    assert "vanished" in file_store.health()
    assert not var.exists()
    away.rename(var)
    assert file_store.health() is None
    _scored(file_store, "f3")
    assert file_store.outcome_count() == 1 and file_store.predictions_for("f3")


def test_a_replaced_store_file_is_refused(file_store, tmp_path):
    from riskmodel.store import StoreUnavailable

    path = tmp_path / "var" / "riskmodel.sqlite3"
    path.rename(tmp_path / "old.sqlite3")
    fresh = Store(f"sqlite:///{path}")  # a new, empty store under the same name
    fresh.migrate()
    fresh.dispose()
    with pytest.raises(StoreUnavailable, match="replaced"):
        file_store.record_outcomes([OUTCOME])
    assert fresh.outcome_count() == 0


def test_a_reader_never_creates_a_store(tmp_path, store_url):
    """`riskmodel outcomes check` and retraining open with create=False: a missing SQLite
    file, or a database without the store's tables, is an error naming where."""
    from riskmodel.store import StoreMissing

    missing = tmp_path / "nowhere" / "riskmodel.sqlite3"
    with pytest.raises(StoreMissing, match=str(missing)):
        Store(f"sqlite:///{missing}", create=False)
    assert not missing.parent.exists()
    empty = Store(store_url, create=True)  # the database (or file) exists, but no store
    empty.dispose()
    reader = Store(store_url, create=False)
    try:
        with pytest.raises(StoreMissing, match="no schema_migrations"):
            reader.migrate()
    finally:
        reader.dispose()


def test_a_relative_sqlite_path_is_resolved_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = Store("sqlite:///var/riskmodel.sqlite3")
    try:
        assert store.path == tmp_path / "var" / "riskmodel.sqlite3"
        assert store.location == str(store.path)
        store.migrate()
        monkeypatch.chdir(tmp_path / "var")  # a later chdir changes nothing
        store.record_outcomes([OUTCOME])
        assert store.outcome_count() == 1
        assert not (tmp_path / "var" / "var").exists()
    finally:
        store.dispose()


def test_a_read_only_store_file_refuses_writes_and_still_reads(file_store, tmp_path):
    from riskmodel.store import StoreUnavailable

    path = tmp_path / "var" / "riskmodel.sqlite3"
    file_store.record_outcomes([OUTCOME])
    with read_only(path):
        with pytest.raises(StoreUnavailable, match="read-only"):
            file_store.record_outcomes([dict(OUTCOME, failed=True, correction=True)])
        with pytest.raises(StoreUnavailable, match="read-only"):
            _scored(file_store, "f3")
        assert "read-only" in file_store.health()
        reader = Store(f"sqlite:///{path}", create=False)
        try:
            assert reader.migrate() == [] and reader.outcome_count() == 1
            assert reader.integrity_check() == []
        finally:
            reader.dispose()
    assert file_store.health() is None
    [r] = file_store.record_outcomes([dict(OUTCOME, failed=True, correction=True)])
    assert r.status == "corrected"


def test_scored_plans_reads_each_campaigns_last_plan_in_chunks(open_store):
    """The monitoring read: chunks of the log joined by the database, a plan sent
    pretty-printed (line breaks) read as one, the last plan of a campaign scored twice."""
    s = open_store()
    base = {"model_version": "v1", "risk_band": "low", "source": "api", "request_id": None}
    day = datetime(2026, 3, 2, 8, tzinfo=UTC)
    rows = [dict(base, campaign_id=f"c{i}", failure_risk=i / 100, scored_at=day,
                 inputs={"campaign_id": f"c{i}", "goal_alignment_score": i / 20,
                         "mou_signed": i % 2 == 0, "category": "home"})
            for i in range(20)]
    rows.append(dict(base, campaign_id="c3", failure_risk=0.9,
                     scored_at=day + timedelta(hours=2),
                     inputs='{\n  "campaign_id": "c3",\n  "goal_alignment_score": 0.99\n}'))
    s.log_predictions(rows)
    frame = s.scored_plans(chunk=7).set_index("campaign_id")
    assert len(frame) == 20
    assert frame.loc["c3", "goal_alignment_score"] == 0.99
    assert frame.loc["c3", "failure_risk"] == 0.9
    assert frame.loc["c4", "goal_alignment_score"] == 0.2
    assert bool(frame.loc["c4", "mou_signed"]) and pd.isna(frame.loc["c3", "mou_signed"])
    assert frame.loc["c4", "category"] == "home"
    assert frame.loc["c3", "scored_at"] == pd.Timestamp(day + timedelta(hours=2))
    later = s.scored_plans(since=day + timedelta(hours=1))
    assert list(later["campaign_id"]) == ["c3"]
    assert s.scored_plans(until=day).empty


def test_scored_plans_reads_the_logged_risk_to_its_last_bit(open_store):
    """A risk needs 17 significant digits to come back the same (SQLite's text of a float
    has 15): monitoring's sums then agree on either database."""
    s = open_store()
    risks = [0.16528532201300913, 1 / 3, 0.1 + 0.2, 5e-324, 0.9999999999999999]
    s.log_predictions([{"campaign_id": f"r{i}", "model_version": "v1", "failure_risk": r,
                        "risk_band": "low", "source": "api", "request_id": None,
                        "inputs": {"campaign_id": f"r{i}"}} for i, r in enumerate(risks)])
    assert s.scored_plans()["failure_risk"].tolist() == risks


def test_a_plan_pyarrow_cannot_type_is_read_the_slow_way(open_store):
    s = open_store()
    s.log_predictions([{"campaign_id": "old", "model_version": "v1", "failure_risk": 0.1,
                        "risk_band": "low", "source": "batch", "request_id": None,
                        "inputs": {"campaign_id": "old", "mou_signed": "yes",
                                   "goal_alignment_score": "0.5"}}])
    [row] = s.scored_plans().to_dict("records")
    assert row["mou_signed"] == "yes" and row["goal_alignment_score"] == "0.5"


class _Cursor:
    """A cursor whose ``PRAGMA journal_mode=WAL`` fails with ``errors`` first."""

    def __init__(self, *errors: str) -> None:
        self.errors, self.tries = list(errors), 0

    def execute(self, sql: str):
        import sqlite3

        assert sql == "PRAGMA journal_mode=WAL"
        self.tries += 1
        if self.errors:
            raise sqlite3.OperationalError(self.errors.pop(0))
        return self

    def fetchone(self):
        return ("wal",)


def test_a_connection_told_locked_while_another_switches_to_wal_asks_again():
    """SQLite can answer "database is locked" at once, past its busy timeout, to a
    connection asking for WAL mode while another sets up a new file: the store asks
    again (1 of about 10 starts of four replicas on a new file failed before), within a
    limit, and passes any other error on."""
    import sqlite3

    from riskmodel.store import wal_mode

    pauses: list[float] = []
    cur = _Cursor("database is locked", "database is locked")
    assert wal_mode(cur, pause=pauses.append) == "wal" and cur.tries == 3
    assert pauses == [0.005, 0.01]
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        wal_mode(_Cursor("disk I/O error"), pause=pauses.append)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        wal_mode(_Cursor(*["database is locked"] * 1000), seconds=0.0, pause=pauses.append)
