"""The SQLite store's file, without SQLAlchemy: where a store URL puts it, creating it, and
checking that it is still the file that was opened (its identity: device and inode).

:class:`riskmodel.Store` checks its file with these functions; ``riskmodel serve`` uses
them to pin the file in its main process, which then never imports SQLAlchemy (about a
tenth of a second of start-up): the workers open and migrate the store on first use.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

from riskmodel.errors import StoreMissing, StoreUnavailable


def store_file(url: str) -> Path | None:
    """The absolute path of the SQLite file the store URL ``url`` names, as
    :class:`riskmodel.Store` opens it (relative paths against the current directory); None
    for a database server, an in-memory database, a ``file:`` URI, or a SQLite URL with a
    host part (which only SQLAlchemy reads: open a :class:`riskmodel.Store`).

    >>> str(store_file("sqlite:////srv/var/riskmodel.sqlite3"))
    '/srv/var/riskmodel.sqlite3'
    >>> store_file("postgresql://u@db/riskmodel") is None
    True
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] != "sqlite" or not rest.startswith("/"):
        return None
    # as SQLAlchemy's URL parser reads it: the part after the third slash, before any
    # query, %-escapes decoded
    database = unquote(rest[1:].partition("?")[0])
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(os.path.abspath(database))


def shown_url(url: str) -> str:
    """A database URL as it may be shown: its password as ``***`` (as SQLAlchemy renders
    it), read without SQLAlchemy.

    >>> shown_url("postgresql://riskmodel:s3cret@db/riskmodel")
    'postgresql://riskmodel:***@db/riskmodel'
    """
    return re.sub(r"^([\w+]+://[^:/@]*):[^@]*@", r"\1:***@", url)


def open_store_file(path: Path, create: bool = True) -> tuple[int, int]:
    """The identity (device, inode) of the store's file at ``path``, created first (with its
    folder) when missing and ``create``: an empty file is an empty SQLite database, made
    with ``O_EXCL`` so a racer's file is never truncated. Raises :class:`StoreMissing`
    when it is missing and not ``create``, :class:`StoreUnavailable` when it cannot be
    created or read."""
    if not path.exists():
        if not create:
            raise StoreMissing(str(path), "there is no such file, and this does not create "
                                          "one")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
        except FileExistsError:
            pass
        except OSError as e:
            raise StoreUnavailable(str(path), f"its file cannot be created: {e.strerror}") \
                from None
    try:
        st = os.stat(path)
    except OSError as e:
        raise StoreUnavailable(str(path), f"its file cannot be read: {e.strerror}") from None
    return st.st_dev, st.st_ino


def check_store_file(path: Path, file_id: tuple[int, int] | None, writing: bool = True) -> None:
    """Raise :class:`StoreUnavailable` if the file at ``path`` has vanished, is not the
    file ``file_id`` names (replaced by another), or (``writing``) cannot be written. One
    ``stat`` (and one ``access``)."""
    location = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise StoreUnavailable(location, "its file has vanished (deleted or moved away); "
                                         "writes are refused until the same file is "
                                         "back") from None
    except OSError as e:
        raise StoreUnavailable(location, f"its file cannot be read: {e.strerror}") from None
    if (st.st_dev, st.st_ino) != file_id:
        raise StoreUnavailable(location, "its file was replaced by another file (not the one "
                                         "opened); writes are refused until the same file "
                                         "is back, or a restart opens the new one")
    if writing and not os.access(path, os.W_OK):
        raise StoreUnavailable(location, "its file is read-only; writes are refused until "
                                         "it is writable again")
