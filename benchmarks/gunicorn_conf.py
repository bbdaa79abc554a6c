"""gunicorn as `riskmodel serve` ran it until it moved to granian (service/server.py): the
baseline of benchmarks/bench_service.py. Settings from RISKMODEL_* (see riskmodel.config)."""

import gc
import os

from prometheus_client import multiprocess

from riskmodel import settings as _settings

_s = _settings(os.environ)

bind = _s.bind
workers = _s.workers
worker_class = "sync"  # measured here: 2 sync workers beat 4, and beat gthread, on 2 cores
timeout = _s.timeout
graceful_timeout = 10
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None  # the app logs every request as JSON, with its request id
errorlog = "-"
loglevel = _s.log_level.lower()


def child_exit(server, worker):  # noqa: ARG001
    """Let the metrics of a dead worker stop counting as live."""
    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):  # noqa: ARG001
    """The app is loaded: move everything it allocated (libraries, the model) out of the
    garbage collector's sight, so a full collection scans only what requests create
    instead of pausing for the whole heap; and collect the youngest generation every
    50,000 allocations instead of 700 (a request makes a few thousand objects, nearly
    all freed by reference counting). Measured with benchmarks/bench_service.py."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)
