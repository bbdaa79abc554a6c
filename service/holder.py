"""The model in service, and its hot swap when ``artifacts/CURRENT`` changes.

A new version is loaded, verified (checksums, libraries, contract), warmed up by scoring a
reference campaign, and only then swapped in. A version that fails any step is refused,
logged, counted, and shown by ``/readyz``; the old one keeps serving. With no usable model
at start-up the service runs unready (503) instead of dying.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from riskmodel import ArtifactError, Registry, Scorer, SignatureError, load_model

log = logging.getLogger("riskmodel.service")

WARM_UP = {
    "campaign_id": "warm-up", "marketplace": "US", "category": "home",
    "campaign_type": "deal_of_the_day", "duration_days": 1, "goal_alignment_score": 0.5,
    "material_delay_days": 5, "resource_value_usd": 20000, "committed_ad_budget_usd": 4000,
}


class ModelHolder:
    """Holds the serving :class:`Scorer`; checks ``CURRENT`` at most every ``interval``."""

    def __init__(self, root: str | Path, interval: float, on_refused=None,
                 on_loaded=None, verify_key: bytes | None = None) -> None:
        self.root = Path(root)
        self.verify_key = verify_key  # set: only versions signed by its key are loaded
        self.interval = interval
        self.scorer: Scorer | None = None
        self.refused: dict | None = None  # the last version refused, and why
        self.unready_reason: str | None = "no model loaded yet"
        self._cache: dict[str, Scorer] = {}
        # version -> its files' fingerprint when refused: retried once they change
        self._refused_versions: dict[str, tuple] = {}
        self._next_check = 0.0
        self._lock = threading.Lock()
        self._on_refused = on_refused or (lambda version, reason: None)
        self._on_loaded = on_loaded or (lambda version: None)
        self.check(force=True)

    def current(self) -> Scorer | None:
        """The serving scorer, after a check of ``CURRENT`` if one is due."""
        if time.monotonic() >= self._next_check:
            self.check()
        return self.scorer

    def check(self, force: bool = False) -> None:
        """Swap in the version ``CURRENT`` names if it is new and passes every step."""
        with self._lock:
            now = time.monotonic()
            if not force and now < self._next_check:
                return
            self._next_check = now + self.interval
            version = Registry(self.root).current_version()
            if version is None:
                if self.scorer is None:
                    self.unready_reason = f"no model is current: {self.root / 'CURRENT'} " \
                                          "is missing or empty"
                return
            if self.scorer is not None and version == self.scorer.version:
                return
            if self._refused_versions.get(version) == _fingerprint(self.root / "models" / version):
                return
            try:
                scorer = self._cache.get(version) or self._load(version)
            except Exception as e:  # any failure refuses the version, never the server
                self._refuse(version, str(e), _why(e))
                return
            self._cache[version] = scorer
            if len(self._cache) > 4:
                self._cache.pop(next(iter(self._cache)))
            self.scorer = scorer
            self.unready_reason = None
            log.info("model swapped in", extra={"model_version": version})
            self._on_loaded(version)

    def _load(self, version: str) -> Scorer:
        # every language's texts built now: the first request in Chinese costs what the
        # others do
        scorer = load_model(version, root=self.root, verify_key=self.verify_key).prepare()
        [result] = scorer.score(WARM_UP)
        if not math.isfinite(result.failure_risk):
            raise ValueError(f"warm-up scored {result.failure_risk!r}")
        return scorer

    def _refuse(self, version: str, reason: str, why: str) -> None:
        self._refused_versions[version] = _fingerprint(self.root / "models" / version)
        self.refused = {"version": version, "reason": reason, "kind": why,
                        "at": datetime.now(UTC).isoformat(timespec="seconds")}
        if self.scorer is None:
            self.unready_reason = f"model version {version!r} was refused: {reason}"
        log.error("model version refused", extra={"model_version": version, "reason": reason})
        self._on_refused(version, why)


def _fingerprint(folder: Path) -> tuple:
    """Name, size and modification time of each entry of a version's folder (no
    symlinks followed): a refused version is tried again when any of them changes."""
    try:
        stats = sorted((e.name, e.stat(follow_symlinks=False)) for e in os.scandir(folder))
        return tuple((name, st.st_size, st.st_mtime_ns) for name, st in stats)
    except OSError:
        return ()


def _why(e: Exception) -> str:
    """A stable word for a refusal (the metric's label): ``unsigned``, ``wrong-key``,
    ``bad-signature``, ``invalid`` (checksums, format, contract...) or ``error``."""
    if isinstance(e, SignatureError):
        return e.reason
    return "invalid" if isinstance(e, ArtifactError) else "error"
