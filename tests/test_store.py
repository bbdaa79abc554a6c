import multiprocessing

import pytest

from riskmodel.store import OutcomeConflict, Store, UnknownCampaign


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


def _scored(store, cid="c1"):
    store.log_predictions([{"campaign_id": cid, "model_version": "v1", "failure_risk": 0.4,
                            "risk_band": "medium", "source": "test", "request_id": "r",
                            "inputs": {"campaign_id": cid, "goal_alignment_score": 0.5,
                                       "material_delay_days": 3,
                                       "resource_value_usd": 10000,
                                       "committed_ad_budget_usd": 3000}}])


def test_migrations_are_versioned_and_idempotent(open_store):
    s = open_store(migrate=False)
    assert s.migrate() == [1]
    assert s.migrate() == []
    assert s.schema_version() == 1


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
    s.record_outcomes([{"campaign_id": "c1", "failed": True, "completed_on": "2026-01-01"}])
    frame = s.training_frame().set_index("campaign_id")
    assert frame.loc["p1", "goal_alignment_score"] == 0.9
    assert frame.loc["c1", "goal_alignment_score"] == 0.5  # the plan known before launch
    assert bool(frame.loc["c1", "failed"]) is True


def _post_same(url, barrier, results):
    s = Store(url)
    try:
        barrier.wait(timeout=90)
        [r] = s.record_outcomes([{"campaign_id": "c1", "failed": True,
                                  "failure_reason": "other", "completed_on": "2026-02-02"}])
        results.put(r.status)
    except Exception as e:  # noqa: BLE001  reported to the parent
        results.put(f"error: {e!r}")
    finally:
        s.dispose()


def test_the_same_outcome_from_8_processes_is_stored_once(store_url, open_store):
    s = open_store()
    _scored(s)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_post_same, args=(store_url, barrier, results))
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
    [as_text, as_mapping] = s.predictions_for("t1")
    assert as_text["inputs"] == as_mapping["inputs"] == plan
