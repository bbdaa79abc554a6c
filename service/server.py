"""`riskmodel serve`: the Flask app on granian's WSGI interface, configured from settings.

granian (a Rust HTTP server) reads and parses every request head in Rust, so a client that
sends slowly holds a connection, not a worker: the sync workers we used before (gunicorn)
stalled behind two such clients. Its main process binds the port, starts ``workers``
processes (forked) and starts a new one when one dies; each worker serves requests on a
pool of threads. On SIGTERM or SIGINT it stops accepting, lets requests in progress finish
(up to ``graceful_timeout`` seconds, then kills the worker) and exits.

What gunicorn's hooks did is done here: the main process builds the app (its model
loaded and warmed up) before forking the workers; :func:`load_worker_app` runs in every
worker as it starts (the garbage collector tuned; the Prometheus bookkeeping of dead
workers), and at a worker's exit the prediction log is flushed. See docs/service.md.
"""

from __future__ import annotations

import gc
import importlib
import logging
import multiprocessing.util
import os
import re
import shutil
import socket
import sys
import tempfile
from typing import Any

from riskmodel import Settings

log = logging.getLogger("riskmodel.service")

# A request head (request line and headers) larger than this is refused by granian with a
# 431; more than 100 header fields also (hyper's fixed limit, as gunicorn's was 100).
MAX_HEAD_BYTES = 64 * 1024
# Python threads per worker, started on demand. A request whose body arrives slowly holds
# one while it waits (without the GIL), so there are more than slow clients are likely to
# be; requests that compute still run one at a time per worker, under the GIL.
THREADS = 64
# seconds a stopping worker has to finish the requests in progress before it is killed
GRACEFUL_TIMEOUT = 10
# seconds a thread holds the interpreter lock before another waiting for it gets a turn
# (Python's default 0.005): see _start_worker
SWITCH_INTERVAL = 0.0005
# numpy's BLAS (OpenBLAS) on one thread in the server, unless the environment says
# otherwise: see serve
BLAS_THREADS = {"OPENBLAS_NUM_THREADS": "1"}


class AddressInUse(OSError):
    """Another server listens on the address ``riskmodel serve`` was to bind."""


def split_bind(bind: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8000`` for IPv6) as ``(host, port)``; ValueError if not."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]]*):(\d{1,5})", bind)
    if not m:
        raise ValueError(f"RISKMODEL_BIND must be host:port (or [ipv6]:port); got {bind!r}")
    host, port = (m[1], m[2]) if m[1] is not None else (m[3] or "127.0.0.1", m[4])
    if not 0 < int(port) < 65536:
        raise ValueError(f"RISKMODEL_BIND has port {port}; it must be 1-65535")
    return host, int(port)


def check_address(host: str, port: int) -> None:
    """Raise :class:`AddressInUse` if something listens on ``host:port`` already.

    granian's workers bind with SO_REUSEPORT, so a second server on a port in use would
    quietly share it (each taking some of the connections) instead of failing as gunicorn
    did; a plain bind fails while anything listens there.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
        try:
            probe.bind((host, port))
        except OSError as e:
            raise AddressInUse(e.errno, f"cannot listen on {host}:{port}: {e.strerror}") \
                from None


def options(s: Settings) -> dict[str, Any]:
    """granian's options (``granian.Granian`` keyword arguments) for the settings ``s``;
    ValueError for a setting granian cannot take."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    host, port = split_bind(s.bind)
    try:
        level = LogLevels(s.log_level.lower())
    except ValueError:
        raise ValueError(f"RISKMODEL_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, "
                         f"CRITICAL; got {s.log_level!r}") from None
    return {
        "address": host, "port": port,
        "interface": Interfaces.WSGI,
        "workers": s.workers,
        # HTTP/1.1 only, as before: no cleartext HTTP/2 upgrade paths to reason about
        "http": HTTPModes.http1, "websockets": False,
        "http1_settings": HTTP1Settings(
            # a client must send its whole request head within the timeout (slow clients
            # are held by granian, not by a worker); idle keep-alive connections likewise
            header_read_timeout=s.timeout * 1000,
            keep_alive=True,
            max_buffer_size=MAX_HEAD_BYTES,
        ),
        "blocking_threads": THREADS,
        "respawn_failed_workers": True,
        "workers_kill_timeout": GRACEFUL_TIMEOUT,
        "log_level": level,
        "log_dictconfig": _LOGGING,
        "log_access": False,  # the app logs every request as JSON, with its request id
    }


# granian's own messages as JSON lines on stderr, like the app's
_LOGGING = {
    "formatters": {"json": {"()": "service.logs.JsonFormatter"}},
    "handlers": {"console": {"formatter": "json", "class": "logging.StreamHandler",
                             "stream": "ext://sys.stderr"}},
    "loggers": {"_granian": {"handlers": ["console"], "propagate": False},
                "granian.access": {"handlers": ["console"], "propagate": False}},
}


def serve(s: Settings, target: str = "service:create_app", factory: bool = True) -> None:
    """Serve ``target`` (``module:attribute``, an app or, with ``factory``, a function
    returning one) with the settings ``s`` until SIGTERM or SIGINT.

    Prometheus needs a directory for the workers' metric files: without
    ``PROMETHEUS_MULTIPROC_DIR`` a fresh one is made for this run and removed at exit, and
    those of earlier runs that were killed (``kill -9`` leaves no chance to remove one) are
    removed first.

    numpy's BLAS computes on one thread (:data:`BLAS_THREADS`, set for the time of the run,
    before the app imports numpy; a value in the environment is kept): the workers are
    processes already, one per core by default. With OpenBLAS's default, a thread per
    core, loading numpy started a thread that spun on the other core while the app was
    built and the workers started: about 0.1 s of the start's 0.63 s of CPU (little of its
    wall time on 2 cores; docs/service.md, Start-up).
    """
    from granian import Granian

    check_address(*split_bind(s.bind))
    made = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        if "prometheus_client.values" in sys.modules:  # it chose per-process values already
            raise RuntimeError("prometheus_client was imported before serve() could set "
                               "PROMETHEUS_MULTIPROC_DIR: the workers' metrics would not add up")
        remove_stale_metrics_dirs(tempfile.gettempdir())
        made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
            prefix=f"riskmodel-metrics-{os.getpid()}-")
    global _preloaded
    blas = {name: value for name, value in BLAS_THREADS.items() if name not in os.environ}
    os.environ.update(blas)
    try:
        _preload(target, factory)
        server = Granian(target, factory=factory, **options(s))
        server.serve(target_loader=load_worker_app if factory else load_worker_object)
    finally:
        _preloaded = None
        for name in blas:
            os.environ.pop(name, None)
        if made:
            shutil.rmtree(made, ignore_errors=True)
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def remove_stale_metrics_dirs(tmp: str) -> list[str]:
    """Remove the ``riskmodel-metrics-PID-*`` directories in ``tmp`` of this user whose
    run (process ``PID``) is gone; return their names. A replica restarted in a loop after
    being killed would otherwise fill the temp folder."""
    removed = []
    for entry in os.scandir(tmp):
        m = re.fullmatch(r"riskmodel-metrics-(\d+)-\w+", entry.name)
        if not m or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_uid != os.geteuid():
                continue
            os.kill(int(m[1]), 0)
            if _zombie(int(m[1])):
                raise ProcessLookupError
        except ProcessLookupError:  # its run is gone
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
        except OSError:  # alive (another user's process), or vanished meanwhile
            continue
    return removed


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited but is not yet reaped (a run killed with ``kill -9``
    whose parent has not waited for it yet still answers ``kill(pid, 0)``); Linux only."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(b")", 1)[-1].split()[:1] == [b"Z"]


# (target, app) built by _preload in this process; workers forked from it serve that app
_preloaded: tuple[str, Any] | None = None


def _preload(target: str, factory: bool) -> None:
    """Build the app once in the main process (for a ``factory``; import it otherwise), so
    that forked workers start with the libraries, the model (loaded, verified, warmed up)
    and the app in memory. Each worker used to build its own after the fork, 80-130 ms
    with both doing it at once on the cores, before the first could answer; a worker now
    listens about 20 ms after it is forked (docs/service.md, Start-up). What must be each
    worker's own is made again in it: the prediction log's writer thread and queue, the
    request-id sequence, this process's Prometheus values (prometheus_client starts a
    new process's values at zero; the version in service is set again), the database
    connections (none is opened before the fork: SQLAlchemy connects on first use). A
    worker checks ``CURRENT`` again on its first request past the reload interval, so
    one started later (a respawn) serves the version promoted since.

    The main process serves nothing: its own live gauges (the model it loaded) are
    removed before the workers start, which show theirs.

    The garbage collector is off while building and what was built is then frozen
    (``gc.freeze``), as Python's documentation advises before a fork without exec: a
    worker's collections never walk those objects again (when each worker still built its
    own app, its first full collection walked every object the imports had made: 54 ms).
    """
    global _preloaded
    gc.disable()
    try:
        obj = _resolve(target)
        _preloaded = (target, obj() if factory else obj)
    finally:
        gc.freeze()
        gc.enable()
    if "prometheus_client" in sys.modules:  # what was built may have set live gauges
        _mark_dead(os.getpid())


def load_worker_app(target: str):
    """granian's loader, run in each worker as it starts: the app the main process built
    from the factory ``target`` before forking (:func:`_preload`), or, if it did not, one
    built now; then the worker's set-up."""
    if _preloaded is not None and _preloaded[0] == target:
        return _start_worker(_preloaded[1])
    return _start_worker(_resolve(target)())


def load_worker_object(target: str):
    """As :func:`load_worker_app`, for a ``target`` that is the app itself."""
    return _start_worker(_resolve(target))


def _resolve(target: str):
    module, _, name = target.partition(":")
    obj = importlib.import_module(module)
    for part in (name or "app").split("."):
        obj = getattr(obj, part)
    return obj


def _start_worker(app):
    _forget_dead_workers()
    # granian's workers are multiprocessing processes, which leave by os._exit: atexit
    # handlers (the prediction log's flush among them) would not run. multiprocessing
    # runs its own exit finalizers first.
    multiprocessing.util.Finalize(None, _stop_worker, args=(app,), exitpriority=10)
    # Everything loaded so far (libraries, the model) is moved out of the garbage
    # collector's sight, so a full collection scans only what requests create instead of
    # pausing for the whole heap; and the youngest generation is collected every 50,000
    # allocations instead of 700 (a request makes a few thousand objects, nearly all
    # freed by reference counting). Measured with benchmarks/bench_service.py.
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)
    # A request waits for the interpreter lock while a background thread (the prediction
    # log's write, once a second) holds it; Python makes the holder let go only after the
    # switch interval, 5 ms by default, longer than ten requests. At 0.5 ms one client's
    # p99 fell from about 1.2 ms to 0.7 ms (the log off: 0.5 ms), throughput unchanged
    # (benchmarks/bench_service.py --only one-client --realtime, docs/service.md).
    sys.setswitchinterval(SWITCH_INTERVAL)
    _fixed_mmap_threshold()
    return app


# glibc's mallopt parameter: blocks at least this large are mapped apart and given back to
# the system when freed (see _fixed_mmap_threshold)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1024 * 1024


def _fixed_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at 1 MiB instead of letting it rise.

    glibc raises the threshold to the size of each large block freed (up to 32 MiB), so
    after one large body (a 2 MB request) blocks of that size come from the heap and
    stay with the process when freed: a worker sent the worst bodies of
    tests/test_service_problems.py once held 119 MiB afterwards, against 75 MiB with the
    threshold fixed (55 MiB idle). Not at glibc's default of 128 KiB: something in every
    request takes a block between the two, and mapping it apart each time cost a sixth of
    the requests per second (benchmarks/bench_service.py --only throughput --baseline;
    at 1 MiB 0.96-0.97 of the checkout before, as without the call). False where the C
    library has no ``mallopt`` (not glibc)."""
    import ctypes

    try:  # the symbols the process has loaded, the C library's among them
        return bool(ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


def _stop_worker(app) -> None:
    """At a worker's exit: store what the prediction log still holds; this worker's
    live gauges stop counting."""
    predlog = getattr(app, "extensions", {}).get("riskmodel.predlog")
    if predlog is not None:
        predlog.flush()
    _mark_dead(os.getpid())


def _forget_dead_workers() -> None:
    """A worker starting (a respawn follows a death) drops the live gauges of workers of
    this run whose process is gone, as gunicorn's child_exit hook did: granian has no hook
    in the main process when a worker dies."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path or not os.path.isdir(path):
        return
    pids = {int(m[1]) for name in os.listdir(path)
            if (m := re.fullmatch(r"gauge_live\w*?_(\d+)\.db", name))}
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            _mark_dead(pid)
        except PermissionError:  # alive, another user's
            pass


def _mark_dead(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
