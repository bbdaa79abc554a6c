"""The prediction log writer: batches in the background, keeps rows when the store fails,
and starts afresh in a forked worker."""

import json
import os
import time

from service.predlog import PredictionLog


class FakeStore:
    def __init__(self, fail: int = 0) -> None:
        self.rows: list[dict] = []
        self.fail = fail

    def log_predictions(self, rows):
        if self.fail:
            self.fail -= 1
            raise OSError("database is down")
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
