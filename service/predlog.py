"""The prediction log writer: scored campaigns are queued and stored in the background.

Scoring never waits on the database: each worker batches its predictions and writes them
in one transaction every ``interval`` seconds (or sooner when ``batch`` are waiting). A
transaction costs about as much as a few hundred rows (its commit syncs to disk), so one a
second rather than four a second gave about 3% more requests per second in the service
benchmark; what is still queued at a normal exit is written then (atexit, and at a granian
worker's exit by service/server.py), what is queued when a worker is killed is lost. Each
row carries the time it was scored, not the time it was written, so a late write keeps the
order the outcome join relies on.

When the store cannot take the rows (its file vanished or is read-only, the database is
down) they stay queued, at most ``limit`` (the oldest are dropped beyond, and counted), and
the writer backs off: it waits ``interval``, then twice as long after each failure, up to
``max_backoff``. It logs once when writing starts failing and once when it works again,
and counts each row whose write failed once, however many retries it takes.

With a retention (``RISKMODEL_PREDICTION_RETENTION_DAYS``), the writer also deletes plans
without outcomes last scored longer ago than that, after a successful write and at most
once every ``prune_every`` seconds.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from riskmodel import StoreUnavailable

log = logging.getLogger("riskmodel.service")


class PredictionSink(Protocol):
    """Where the log writes: a :class:`riskmodel.Store`, or the app's store opened on first
    use."""

    def log_predictions(self, rows: Iterable[Mapping]) -> int: ...


class PredictionLog:
    def __init__(self, store: PredictionSink, on_failure=None, on_drop=None,
                 interval: float = 1.0, batch: int = 5000, limit: int = 100_000,
                 max_backoff: float = 60.0, prune=None, prune_every: float = 3600.0) -> None:
        self.store = store
        self._prune = prune  # deletes what the retention says; returns how many rows
        self._prune_every = prune_every
        self._pruned_at: float | None = None  # monotonic time of the last prune
        self.interval, self.batch, self.limit = interval, batch, limit
        self.max_backoff = max(max_backoff, interval)
        self._queue: deque = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._on_failure = on_failure or (lambda n: None)  # rows whose write failed
        self._on_drop = on_drop or (lambda n: None)  # rows dropped beyond the limit
        self._thread: threading.Thread | None = None
        self._counted = 0  # rows at the queue's head already counted as failed
        self._failing_since: float | None = None  # wall time of the first failure
        self._delay = interval  # the wait before the next attempt
        self._reason: str | None = None
        atexit.register(self.flush)
        os.register_at_fork(after_in_child=self._forked)

    def add(self, rows: list[dict]) -> None:
        """Queue scored rows (each stamped with the time now); never blocks on the store."""
        now = time.time()
        for row in rows:
            row["scored_at"] = now
        queue = self._queue
        queue.extend(rows)
        if self._thread is None:
            self._start()
        if len(queue) >= self.batch:
            if len(queue) > self.limit:
                self._trim()
            if self._failing_since is None:  # backing off: the full batch waits its turn
                self._wake.set()

    def status(self) -> dict:
        """For ``/readyz``: ``writing`` or ``failing`` (since when, why), rows queued."""
        since = self._failing_since
        return {"status": "writing" if since is None else "failing",
                "queued": len(self._queue),
                "failing_since": None if since is None else
                datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds"),
                "reason": self._reason}

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="prediction-log",
                                                daemon=True)
                self._thread.start()

    def _forked(self) -> None:
        """In a forked child (a worker of a server that built the app before forking) the
        writer thread does not exist: the next ``add`` starts one. Nothing the parent
        queued is written twice."""
        self._thread = None
        self._queue.clear()
        self._counted = 0
        self._failing_since, self._delay, self._reason = None, self.interval, None
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def _run(self) -> None:
        while True:
            if self._failing_since is None:
                self._wake.wait(self.interval)
            else:  # a full batch does not cut a back-off short
                time.sleep(self._delay)
            self._wake.clear()
            self.flush()

    def _trim(self) -> None:
        """Drop the oldest rows beyond ``limit``; skipped while a write holds the lock (the
        write trims when it puts its rows back)."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._drop_excess()
        finally:
            self._lock.release()

    def _drop_excess(self) -> None:
        queue = self._queue
        excess = len(queue) - self.limit
        if excess <= 0:
            return
        for _ in range(excess):
            queue.popleft()
        self._counted = max(0, self._counted - excess)
        self._on_drop(excess)

    def flush(self) -> int:
        """Write everything queued now; return how many rows were stored."""
        with self._lock:
            queue = self._queue
            rows = []
            while queue:
                rows.append(queue.popleft())
            if not rows:
                return 0
            stamps: dict[float, datetime] = {}  # rows of one request share one time
            for row in rows:  # the time scored, as the store takes it
                at = row.get("scored_at")
                if isinstance(at, float):
                    stamp = stamps.get(at)
                    if stamp is None:
                        stamp = stamps[at] = datetime.fromtimestamp(at, UTC)
                    row["scored_at"] = stamp
            try:
                written = self.store.log_predictions(rows)
            except Exception as e:  # the store is down: keep the rows, bounded, and say so
                self._failed(rows, e)
                return 0
            if self._failing_since is not None:
                log.warning("prediction log writing again", extra={
                    "rows": written,
                    "failed_for_s": round(time.time() - self._failing_since, 1)})
            self._counted = 0
            self._failing_since, self._delay, self._reason = None, self.interval, None
            self._prune_due()
            return written

    def _prune_due(self) -> None:
        last = self._pruned_at
        if self._prune is None or (last is not None
                                   and time.monotonic() - last < self._prune_every):
            return
        self._pruned_at = time.monotonic()
        try:
            removed = self._prune()
        except Exception as e:  # noqa: BLE001  retention waits for the next time
            log.warning("prediction log retention failed", extra={"reason": str(e)})
            return
        if removed:
            log.info("prediction log retention", extra={"rows_removed": removed})

    def _failed(self, rows: list, error: Exception) -> None:
        fresh = len(rows) - self._counted  # rows failing for the first time
        if fresh > 0:
            self._on_failure(fresh)
        self._queue.extendleft(reversed(rows))
        self._counted = len(rows)
        self._drop_excess()
        reason = error.reason if isinstance(error, StoreUnavailable) else \
            f"{type(error).__name__}: {error}"
        if self._failing_since is None:  # once per state change, not once per retry
            self._failing_since = time.time()
            self._delay = self.interval
            # an unexpected error gets its traceback, once; a known store state its reason
            log.error("prediction log cannot write; rows are kept and retried with back-off",
                      exc_info=not isinstance(error, StoreUnavailable),
                      extra={"reason": reason, "queued": len(self._queue)})
        else:
            self._delay = min(self._delay * 2, self.max_backoff)
        self._reason = reason

