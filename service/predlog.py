"""The prediction log writer: scored campaigns are queued and stored in the background.

Scoring never waits on the database: each worker batches its predictions and writes them
in one transaction every ``interval`` seconds (or sooner when ``batch`` are waiting). A
transaction costs about as much as a few hundred rows (its commit syncs to disk), so one a
second rather than four a second gave about 3% more requests per second in the service
benchmark; what is still queued at a normal exit is written then (atexit, and at a granian
worker's exit by service/server.py), what is queued when a worker is killed is lost. A
failed write is logged and counted, the rows kept for the next attempt up to ``limit``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Protocol

log = logging.getLogger("riskmodel.service")


class PredictionSink(Protocol):
    """Where the log writes: a :class:`riskmodel.Store`, or the app's store opened on first
    use."""

    def log_predictions(self, rows: Iterable[Mapping]) -> int: ...


class PredictionLog:
    def __init__(self, store: PredictionSink, on_failure=None, interval: float = 1.0,
                 batch: int = 5000, limit: int = 100_000) -> None:
        self.store = store
        self.interval, self.batch, self.limit = interval, batch, limit
        self._queue: deque = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._on_failure = on_failure or (lambda n: None)
        self._thread: threading.Thread | None = None
        atexit.register(self.flush)
        os.register_at_fork(after_in_child=self._forked)

    def add(self, rows: list[dict]) -> None:
        self._queue.extend(rows)
        if self._thread is None:
            self._start()
        if len(self._queue) >= self.batch:
            self._wake.set()

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
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write everything queued now; return how many rows were stored."""
        with self._lock:
            rows = []
            while self._queue:
                rows.append(self._queue.popleft())
            if not rows:
                return 0
            try:
                return self.store.log_predictions(rows)
            except Exception:  # the store is down: keep the rows, bounded, and say so
                log.exception("prediction log write failed", extra={"rows": len(rows)})
                self._on_failure(len(rows))
                keep = rows[-self.limit:]
                self._queue.extendleft(reversed(keep))
                return 0
