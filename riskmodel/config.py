"""Settings: defaults here, overridden by ``RISKMODEL_*`` environment variables.

Read only at the edges (the CLI, ``create_app``, the gunicorn config); the core never reads
the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from riskmodel.errors import RiskModelError


class ConfigError(RiskModelError, ValueError):
    """An environment variable with a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Every setting, with its default. The environment variable is ``RISKMODEL_<NAME>``."""

    artifacts: str = "artifacts"  # artifacts root: CURRENT and models/
    bind: str = "127.0.0.1:8000"  # where `riskmodel serve` listens
    workers: int = 2  # gunicorn sync workers (2 beat 4 on a 2-core machine)
    timeout: int = 30  # seconds before gunicorn restarts a stuck worker
    max_campaigns: int = 1000  # campaigns per POST /v1/score
    max_body_bytes: int = 2 * 1024 * 1024  # request body limit
    default_top_k: int = 3  # factors explained per campaign unless ?top_k= says otherwise
    reload_interval: float = 2.0  # seconds between checks of artifacts/CURRENT
    log_level: str = "INFO"


def settings(environ: dict | None = None) -> Settings:
    """Defaults overridden by the environment; a bad value raises :class:`ConfigError`."""
    env = os.environ if environ is None else environ
    values = {}
    for f in fields(Settings):
        raw = env.get(f"RISKMODEL_{f.name.upper()}")
        if raw is None or raw == "":
            continue
        kind = type(f.default)
        try:
            value = kind(raw)
        except ValueError:
            raise ConfigError(f"RISKMODEL_{f.name.upper()} must be {kind.__name__}; got "
                              f"{raw!r}") from None
        if kind in (int, float) and value <= 0 and f.name != "default_top_k":
            raise ConfigError(f"RISKMODEL_{f.name.upper()} must be > 0; got {raw!r}")
        values[f.name] = value
    return Settings(**values)


def artifacts_dir() -> Path:
    """``RISKMODEL_ARTIFACTS``, else ``./artifacts``."""
    return Path(settings().artifacts)
