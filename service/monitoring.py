"""Monitoring in the service: the result of :func:`riskmodel.monitor` at most once a
minute per worker and window, and Prometheus gauges of its figures.

``GET /v1/monitoring`` answers from a result at most ``max_age`` seconds old and computes
one otherwise (the caller waits). A ``/metrics`` scrape never waits: it starts a
background refresh of the default window when the gauges are older than ``max_age`` and
shows the previous values meanwhile. Gauges are ``mostrecent`` across workers: the worker
that computed last speaks for all.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from prometheus_client import Gauge

from service.holder import ModelHolder
from service.store import StoreHolder

log = logging.getLogger("riskmodel.service")

Window = tuple[datetime | None, datetime | None]


class MonitoringGauges:
    """The gauges; registered where the app's other metrics are."""

    def __init__(self, registry) -> None:
        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, list(labels), registry=registry,
                         multiprocess_mode="mostrecent")

        self.verdict = gauge("riskmodel_monitoring_verdict",
                             "1 for the monitoring verdict now (ok, watch, retrain "
                             "recommended), 0 for the others.", ("verdict",))
        self.factor_psi = gauge("riskmodel_monitoring_factor_psi",
                                "Population stability index of each factor, the campaigns "
                                "scored against the training data.", ("factor",))
        self.factor_moved = gauge("riskmodel_monitoring_factor_moved",
                                  "1 when the factor moved (significant after Holm and "
                                  "PSI >= 0.1).", ("factor",))
        self.score_psi = gauge("riskmodel_monitoring_score_psi",
                               "Population stability index of the predicted risk.")
        self.campaigns = gauge("riskmodel_monitoring_campaigns",
                               "Campaigns in the monitored window.")
        self.outcomes = gauge("riskmodel_monitoring_outcomes",
                              "Outcomes completed in the monitored window.")
        self.observed_expected = gauge("riskmodel_monitoring_observed_expected_ratio",
                                       "Observed failures divided by expected failures.")
        self.roc_auc = gauge("riskmodel_monitoring_roc_auc",
                             "Realized ROC AUC on the outcomes.")
        self.brier = gauge("riskmodel_monitoring_brier", "Realized Brier score.")
        self.ece = gauge("riskmodel_monitoring_ece", "Realized expected calibration error.")
        self.computed = gauge("riskmodel_monitoring_computed_timestamp_seconds",
                              "When the figures were computed (Unix time).")

    def show(self, result: dict) -> None:
        from riskmodel import VERDICTS

        for verdict in VERDICTS:
            self.verdict.labels(verdict=verdict).set(1 if result["verdict"] == verdict else 0)
        for r in result["input_drift"]["factors"]:
            self.factor_psi.labels(factor=r["factor"]).set(r["psi"])
            self.factor_moved.labels(factor=r["factor"]).set(1 if r["moved"] else 0)
        self.score_psi.set(result["score_drift"]["psi"])
        self.campaigns.set(result["window"]["campaigns"])
        perf = result["performance"]
        self.outcomes.set(perf["outcomes"])
        overall = perf.get("overall") or {}
        for gauge, key in ((self.observed_expected, "ratio"), (self.roc_auc, "roc_auc"),
                           (self.brier, "brier"), (self.ece, "ece")):
            value = overall.get(key)
            gauge.set(float("nan") if value is None else value)
        self.computed.set(time.time())


class Monitoring:
    """Results by window, each at most ``max_age`` seconds old."""

    def __init__(self, store: StoreHolder, holder: ModelHolder, gauges: MonitoringGauges,
                 max_age: float = 60.0) -> None:
        self.store, self.holder, self.gauges = store, holder, gauges
        self.max_age = max_age
        self._results: dict[tuple, tuple[float, dict]] = {}
        self._references: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._refreshing = False
        self._gauges_at: float | None = None

    def result(self, since: datetime | None = None, until: datetime | None = None) -> dict:
        """The monitoring result of the window, computed if none is fresh. Raises what
        :func:`riskmodel.monitor` and the store raise (the view answers them)."""
        # loaded on first use: a worker that is never asked does not pay for it at start
        from riskmodel import load_reference, monitor

        scorer = self.holder.current()
        if scorer is None:
            raise LookupError(self.holder.unready_reason or "no model loaded")
        key = (scorer.version, since, until)
        found = self._results.get(key)
        if found is not None and time.monotonic() - found[0] < self.max_age:
            return found[1]
        reference = self._references.get(scorer.version)
        if reference is None:
            reference = load_reference(self.holder.root, scorer.version)
            self._references[scorer.version] = reference
        result = monitor(self.store(), scorer, reference, since=since, until=until)
        with self._lock:
            self._results[key] = (time.monotonic(), result)
            if len(self._results) > 8:  # a few windows at a time, the oldest go
                self._results.pop(next(iter(self._results)))
        if since is None and until is None:
            self.gauges.show(result)
            self._gauges_at = time.monotonic()
        return result

    def refresh_gauges_soon(self) -> None:
        """From a scrape: refresh the gauges in the background if they are stale; never
        waits, never raises."""
        at = self._gauges_at
        if at is not None and time.monotonic() - at < self.max_age:
            return
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh, name="monitoring-refresh", daemon=True).start()

    def _refresh(self) -> None:
        try:
            self.result()
        except Exception as e:  # noqa: BLE001  no model, no store, an empty log: next time
            self._gauges_at = time.monotonic()  # and not again before max_age
            log.info("monitoring figures not refreshed", extra={"reason": str(e)})
        finally:
            self._refreshing = False
