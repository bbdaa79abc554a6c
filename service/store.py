"""The service's store: the file it started with, opened and migrated on first use, and
its state for ``/readyz``.

Scoring never needs the store, so a store that cannot be used makes outcome posts 503
``store-unavailable`` and holds the prediction log back; it never stops scoring. A SQLite
file is pinned by its identity when the app is created (by ``riskmodel serve`` for all of
its workers, through ``RISKMODEL_STORE_FILE_ID``): a file deleted, moved away or
replaced later is refused until the same file is back. Pinning it takes a ``stat``, not
SQLAlchemy: the :class:`riskmodel.Store` (SQLAlchemy's engine, the migrations) is made on
first use, so a worker is ready for scoring without having imported SQLAlchemy. A
database server's store is made (not connected) when the app is created.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from riskmodel import StoreUnavailable, check_store_file, open_store_file, store_file

if TYPE_CHECKING:
    from riskmodel import Store

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
        self._path = store_file(url)  # None: a database server (or SQLite in memory)
        self._store: Store | None = None
        self._ready = False  # migrated
        self._error: str | None = None  # why the store could not be opened
        self._lock = threading.Lock()
        try:  # the file now, so every later check compares with the file the app began with
            if self._path is not None:
                opened = open_store_file(self._path, self._create)
                self._file_id = file_id or opened
            else:
                self._store = _open(url, file_id)
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
                    if self._path is not None and self._file_id is not None:
                        # the pinned file, not one made in its place (the clearer reason)
                        check_store_file(self._path, self._file_id, writing=False)
                    self._store = _open(self.url, self._file_id)
                self._store.migrate()
            except StoreUnavailable as e:
                self._error = e.reason
                raise
            except Exception as e:  # an unreachable database: scoring goes on without it
                self._error = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
                log.error("store unavailable", extra={"reason": self._error})
                location = self._store.location if self._store else \
                    str(self._path or "(unopened)")
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
            if self._path is None or self._file_id is None:
                return {"status": "unavailable", "reason": self._error}
            try:  # a SQLite file pinned, its store not opened yet
                check_store_file(self._path, self._file_id)
            except StoreUnavailable as e:
                return {"status": "unavailable", "reason": e.reason}
            if self._error is not None:
                return {"status": "unavailable", "reason": self._error}
            return {"status": "available", "reason": None}
        reason = store.health() or self._error
        if reason is not None:
            return {"status": "unavailable", "reason": reason}
        if not self._ready and not store.is_sqlite:
            return {"status": "unknown", "reason": "not used yet"}
        return {"status": "available", "reason": None}

    def dispose(self) -> None:
        if self._store is not None:
            self._store.dispose()


def _open(url: str, file_id: tuple[int, int] | None) -> Store:
    """The store at ``url``, its tables created by the first migration; a SQLite file
    pinned by ``file_id`` must be that file (it is never made anew)."""
    from riskmodel import Store  # SQLAlchemy: imported on the store's first use

    return Store(url, create=True, file_id=file_id)
