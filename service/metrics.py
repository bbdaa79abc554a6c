"""Prometheus metrics, correct under several worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``riskmodel serve`` makes one per run), every worker
writes its values to files there and ``/metrics`` aggregates them; without it (tests,
``--dev``) each app has its own registry. prometheus_client reads the variable when it is
first imported, so it must be set before (service/server.py sees to it).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # None: the metrics register nowhere; /metrics reads the workers' files instead
        registry = None if self.multiprocess else CollectorRegistry()
        self.registry = registry
        # one histogram gives both: request counts (_count) and latency, by route and status
        self.requests = Histogram("riskmodel_http_request_duration_seconds",
                                  "Requests and the time to answer them.",
                                  ["route", "method", "status"], buckets=BUCKETS,
                                  registry=registry)
        self.scores = Counter("riskmodel_scores_total", "Campaigns scored, by risk band.",
                              ["band", "model_version"], registry=registry)
        self.rejections = Counter("riskmodel_input_rejections_total",
                                  "Input errors, by field (\"(unknown)\" for names the "
                                  "contract lacks, \"(not listed)\" for errors past "
                                  "MAX_ERRORS).", ["field"], registry=registry)
        self.model_info = Gauge("riskmodel_model_loaded", "1 for the model version in service.",
                                ["model_version"], multiprocess_mode="liveall",
                                registry=registry)
        self.reload_failures = Counter("riskmodel_model_refused_total",
                                       "Model versions refused at load or swap, by why: "
                                       "unsigned, wrong-key, bad-signature, invalid, error.",
                                       ["reason"], registry=registry)
        self.prediction_log_failures = Counter(
            "riskmodel_prediction_log_failures_total",
            "Scored campaigns whose prediction-log write failed, each counted once however "
            "many retries it takes (kept queued for them).",
            registry=registry)
        self.prediction_log_dropped = Counter(
            "riskmodel_prediction_log_dropped_total",
            "Scored campaigns dropped from the prediction log's full queue (never stored).",
            registry=registry)

        self._children: dict = {}
        self._version: str | None = None  # the model version in service
        os.register_at_fork(after_in_child=self._forked)

    def child(self, metric, *labels: str):
        """``metric.labels(*labels)``, looked up once per label set: prometheus_client
        builds and locks on every ``labels`` call, which the hot path can skip."""
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def model_loaded(self, version: str, previous: str | None) -> None:
        if previous:
            self.model_info.labels(model_version=previous).set(0)
        self.model_info.labels(model_version=version).set(1)
        self._version = version

    def _forked(self) -> None:
        """In a worker forked from the process that built the app (``riskmodel serve``):
        prometheus_client starts a new process's values at zero, so the version in
        service is shown again, as this worker's."""
        if self._version is not None:
            self.model_info.labels(model_version=self._version).set(1)

    def exposition(self) -> tuple[bytes, str]:
        registry = self.registry
        if registry is None:  # several workers: gather what each wrote to its files
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
