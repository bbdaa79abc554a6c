"""What tests/test_store.py runs in processes of their own, as replicas or clients on
one store would. They start from multiprocessing's fork server with this module (and the
store) imported once: a child started by ``spawn`` imported the test module and its
conftest (training, the test data...), which took seconds of CPU per child on two cores.
The fork server is a single-threaded process of its own, so the children are clean
processes with no connection or thread of the test's."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context

from riskmodel.store import Store


def context() -> multiprocessing.context.BaseContext:
    """multiprocessing's ``forkserver`` context, the server preloading this module and
    PostgreSQL's driver (which the store imports on first use)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__, "psycopg"])
    return ctx


def post_same(url, barrier, results) -> None:
    """Record the same outcome of campaign c1 once the others are ready; its status."""
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


def migrate(url, barrier, results) -> None:
    """Migrate the store once the others are ready; the migrations it applied."""
    s = Store(url)
    try:
        barrier.wait(timeout=90)
        results.put(s.migrate())
    except Exception as e:  # noqa: BLE001  reported to the parent
        results.put(f"error: {e!r}")
    finally:
        s.dispose()

