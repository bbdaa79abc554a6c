"""The service's store: the file it started with, opened and migrated on first use, and
its state for ``/readyz``.

Scoring never needs the store, so a store that cannot be used makes outcome posts 503
``store-unavailable`` and holds the prediction log back; it never stops scoring. A SQLite
file is pinned by its identity when the app is created (by ``riskmodel serve`` for all of
its workers, through ``RISKMODEL_STORE_FILE_ID``): a file deleted, moved away or
replaced later is refused until the same file is back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping

from riskmodel import Store, StoreUnavailable

log = logging.getLogger("riskmodel.service")


class StoreHolder:
    """Calls give the migrated :class:`riskmodel.Store` or raise
    :class:`riskmodel.StoreUnavailable`; ``log_predictions`` makes it the prediction
    log's sink."""

    def __init__(self, url: str, file_id: tuple[int, int] | None = None) -> None:
        self.url = url
        # pinned by `riskmodel serve`: this worker must find that file, never create one
        self._create = file_id is None
        self._file_id = file_id
        self._store: Store | None = None
        self._ready = False  # migrated
        self._error: str | None = None  # why the store could not be opened
        self._lock = threading.Lock()
        try:  # the file now, so every later check compares with the file the app began with
            self._store = Store(url, create=self._create, file_id=file_id)
        except StoreUnavailable as e:
            self._error = e.reason
            log.error("store unavailable", extra={"reason": str(e)})
        except Exception as e:  # noqa: BLE001  a URL that cannot be used: scoring goes on
            self._error = str(e)
            log.error("store unavailable", extra={"reason": str(e)})

    def __call__(self) -> Store:
        """The store, migrated on first use; :class:`StoreUnavailable` while it cannot
        be used."""
        store = self._store
        if store is not None and self._ready:
            return store
        with self._lock:
            if self._store is not None and self._ready:  # another thread got here first
                return self._store
            try:
                if self._store is None:
                    self._store = Store(self.url, create=self._create, file_id=self._file_id)
                self._store.migrate()
            except StoreUnavailable as e:
                self._error = e.reason
                raise
            except Exception as e:  # an unreachable database: scoring goes on without it
                self._error = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
                log.error("store unavailable", extra={"reason": self._error})
                location = self._store.location if self._store else "(unopened)"
                raise StoreUnavailable(location, self._error) from e
            self._ready, self._error = True, None
            return self._store

    def log_predictions(self, rows: Iterable[Mapping]) -> int:
        return self().log_predictions(rows)

    def state(self) -> dict:
        """``status`` ``available``, ``unavailable`` (with the ``reason``) or ``unknown``
        (a database server not used yet). No database I/O: the file's identity (one stat),
        and how the last operation went."""
        store = self._store
        if store is None:
            return {"status": "unavailable", "reason": self._error}
        reason = store.health() or self._error
        if reason is not None:
            return {"status": "unavailable", "reason": reason}
        if not self._ready and not store.is_sqlite:
            return {"status": "unknown", "reason": "not used yet"}
        return {"status": "available", "reason": None}

    def dispose(self) -> None:
        if self._store is not None:
            self._store.dispose()
