"""The prediction log writer: batches in the background, keeps rows when the store fails
(bounded, backing off, logging once per state change, counting rows), and starts afresh in
a forked worker."""

import json
import os
import time
from datetime import UTC, datetime

from riskmodel import StoreUnavailable
from service.predlog import PredictionLog


class FakeStore:
    def __init__(self, fail: int = 0, error: Exception | None = None) -> None:
        self.rows: list[dict] = []
        self.fail = fail
        self.error = error or OSError("database is down")
        self.attempts = 0

    def log_predictions(self, rows):
        self.attempts += 1
        if self.fail:
            self.fail -= 1
            raise self.error
        self.rows.extend(rows)
        return len(rows)


def _row(i: int) -> dict:
    return {"campaign_id": f"p{i}", "model_version": "v", "failure_risk": 0.1,
            "risk_band": "low", "inputs": {}, "source": "api", "request_id": str(i)}


def test_rows_are_written_in_one_batch_and_in_order():
    store = FakeStore()
    log = PredictionLog(store, interval=3600)
    log.add([_row(0), _row(1)])
    log.add([_row(2)])
    assert log.flush() == 3
    assert [r["campaign_id"] for r in store.rows] == ["p0", "p1", "p2"]
    assert log.flush() == 0


def test_a_failed_write_keeps_the_rows_for_the_next_one():
    failures = []
    store = FakeStore(fail=1)
    log = PredictionLog(store, interval=3600, on_failure=failures.append)
    log.add([_row(0), _row(1)])
    assert log.flush() == 0 and failures == [2]
    log.add([_row(2)])
    assert log.flush() == 3
    assert [r["campaign_id"] for r in store.rows] == ["p0", "p1", "p2"]


def test_a_full_batch_wakes_the_writer():
    store = FakeStore()
    log = PredictionLog(store, interval=3600, batch=2)
    log.add([_row(0), _row(1)])  # the interval is an hour: only the wake-up writes now
    deadline = time.monotonic() + 10
    while len(store.rows) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [r["campaign_id"] for r in store.rows] == ["p0", "p1"]


def test_a_forked_worker_writes_only_its_own_rows_with_its_own_thread():
    store = FakeStore()
    log = PredictionLog(store, interval=3600)
    log.add([_row(0)])  # the parent's row, still queued, and the parent's thread running
    parent_thread = log._thread
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what it stores, down the pipe
        try:
            log.add([_row(1)])
            started = log._thread is not None and log._thread is not parent_thread \
                and log._thread.is_alive()
            log.flush()
            os.write(write, json.dumps({"rows": [r["campaign_id"] for r in store.rows],
                                        "started": started}).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = json.loads(os.read(read, 4096))
    os.close(read)
    os.waitpid(pid, 0)
    assert child == {"rows": ["p1"], "started": True}
    assert log.flush() == 1 and [r["campaign_id"] for r in store.rows] == ["p0"]


def test_a_store_down_is_retried_with_back_off_logged_once_and_counted_by_rows(
        service_log):
    """A read-only or vanished store: not a traceback a second per worker, and
    riskmodel_prediction_log_failures_total counts campaigns, not attempts."""
    failures = []
    store = FakeStore(fail=6, error=StoreUnavailable("/x/riskmodel.sqlite3",
                                                     "its file is read-only"))
    log = PredictionLog(store, interval=1.0, max_backoff=8.0, on_failure=failures.append)
    log.add([_row(0), _row(1)])
    delays = []
    for i in range(6):
        if i == 3:
            log.add([_row(2)])  # arrives while failing: counted once too
        assert log.flush() == 0
        delays.append(log._delay)
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert sum(failures) == 3
    status = log.status()
    assert status["status"] == "failing" and status["queued"] == 3
    assert status["reason"] == "its file is read-only" and status["failing_since"]
    messages = [r.getMessage() for r in service_log]
    assert len([m for m in messages if "cannot write" in m]) == 1
    assert not any(r.exc_info for r in service_log)  # a known state: its reason, no trace
    assert log.flush() == 3
    assert [r["campaign_id"] for r in store.rows] == ["p0", "p1", "p2"]
    assert [m for m in (r.getMessage() for r in service_log) if "writing again" in m]
    assert log.status()["status"] == "writing" and log._delay == 1.0


def test_the_queue_stays_bounded_while_the_store_is_down():
    failures, dropped = [], []
    store = FakeStore(fail=100)
    log = PredictionLog(store, interval=3600, batch=5, limit=10,
                        on_failure=failures.append, on_drop=dropped.append)
    log._failing_since = time.time()  # as after a first failure: no wake-ups
    for i in range(30):
        log.add([_row(i)])
        assert len(log._queue) <= 10
    log.flush()
    assert len(log._queue) == 10 and sum(dropped) == 20
    assert [r["campaign_id"] for r in log._queue] == [f"p{i}" for i in range(20, 30)]
    log.add([_row(30), _row(31)])
    log.flush()
    assert len(log._queue) == 10 and sum(dropped) == 22
    assert sum(failures) == 12  # 10 failed, then 2 more; the dropped ones never again
    store.fail = 0
    assert log.flush() == 10


def test_rows_keep_the_time_they_were_scored_not_the_time_written():
    store = FakeStore()
    log = PredictionLog(store, interval=3600)
    before = datetime.now(UTC)
    log.add([_row(0), _row(1)])
    after = datetime.now(UTC)
    time.sleep(0.05)
    log.flush()
    stamps = [r["scored_at"] for r in store.rows]
    assert all(before <= t <= after for t in stamps)
    assert stamps[0] is stamps[1]  # one request, one time, converted once


def test_a_full_batch_does_not_cut_a_back_off_short():
    """While the store is down, requests filling a batch do not wake the writer into a
    retry each: the attempts follow the back-off."""
    store = FakeStore(fail=10**6)
    log = PredictionLog(store, interval=0.01, batch=1, max_backoff=3600)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        log.add([_row(0)])
        time.sleep(0.001)
    # back-off of 0.01, 0.02, 0.04 ... s: about 6 attempts in 0.5 s, not one per request
    assert 1 <= store.attempts <= 12, store.attempts


def test_retention_runs_after_a_write_at_most_once_per_interval():
    store = FakeStore(fail=1)
    pruned = []
    log = PredictionLog(store, interval=3600, prune=lambda: pruned.append(1) or 5,
                        prune_every=3600)
    log.add([_row(0)])
    assert log.flush() == 0 and pruned == []  # a failed write prunes nothing
    assert log.flush() == 1 and pruned == [1]
    log.add([_row(1)])
    assert log.flush() == 1 and pruned == [1]  # not again within the hour


def test_the_service_prunes_by_its_retention_setting(tmp_path, trained, monkeypatch):
    """RISKMODEL_PREDICTION_RETENTION_DAYS: plans without outcomes last scored longer ago
    go at the log writer's next write; recent ones stay."""
    from datetime import timedelta

    from riskmodel import Store
    from service import create_app

    root, _ = trained
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    store = Store(url)
    store.migrate()
    old = datetime.now(UTC) - timedelta(days=40)
    store.log_predictions([dict(_row(0), scored_at=old), dict(_row(1))])
    app = create_app({"artifacts": str(root), "database_url": url,
                      "prediction_retention_days": 30})
    predlog = app.extensions["riskmodel.predlog"]
    predlog.add([_row(2)])
    assert predlog.flush() == 1
    assert not store.predictions_for("p0")
    assert store.predictions_for("p1") and store.predictions_for("p2")
    store.dispose()
