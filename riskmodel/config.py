"""Settings: defaults here, overridden by ``RISKMODEL_*`` variables.

Pure: :func:`settings` takes the environment as an argument. Only the edges (the command
line, ``create_app``, the HTTP server's configuration) pass ``os.environ``; the core takes
paths and settings as arguments and never reads the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from riskmodel.errors import RiskModelError


class ConfigError(RiskModelError, ValueError):
    """An environment variable with a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Every setting, with its default. The environment variable is ``RISKMODEL_<NAME>``."""

    artifacts: str = "artifacts"  # artifacts root: CURRENT and models/
    bind: str = "127.0.0.1:8000"  # where `riskmodel serve` listens
    workers: int = 2  # worker processes of `riskmodel serve` (one per core)
    timeout: int = 30  # seconds a client has to send a request's head (and an idle keep-alive)
    max_campaigns: int = 1000  # campaigns per POST /v1/score
    max_body_bytes: int = 2 * 1024 * 1024  # request body limit
    max_upload_bytes: int = 20 * 1024 * 1024  # a plan uploaded to the workbench
    default_top_k: int = 3  # factors explained per campaign unless ?top_k= says otherwise
    reload_interval: float = 2.0  # seconds between checks of artifacts/CURRENT
    log_level: str = "INFO"
    data_dir: str = "var"  # where the default SQLite store lives
    database_url: str = ""  # SQLAlchemy URL; empty: sqlite:///<data_dir>/riskmodel.sqlite3
    # set by `riskmodel serve`, not by hand: "device:inode" of the SQLite store file it
    # started with, so every worker (one restarted later too) refuses any other file
    store_file_id: str = ""
    api_keys: str = ""  # comma-separated keys for outcomes and model administration
    scoring_requires_key: bool = False  # also require a key for POST /v1/score
    log_predictions: bool = True  # store every campaign the service scores
    # behind one reverse proxy (deploy/nginx): take the client's scheme and address from its
    # X-Forwarded-Proto and X-Forwarded-For (only then: a client could forge them)
    behind_proxy: bool = False
    # days a logged plan whose campaign has no outcome is kept after it was last scored;
    # 0 (unset): kept for ever
    prediction_retention_days: int = 0
    signing_key: str = ""  # Ed25519 private key (PEM file): training and promotion sign
    verify_key: str = ""  # Ed25519 public key (PEM file): only versions it verifies load


def settings(environ: Mapping[str, str]) -> Settings:
    """Defaults overridden by the ``RISKMODEL_*`` entries of ``environ`` (the edges pass
    ``os.environ``); a bad value raises :class:`ConfigError`."""
    env = environ
    values: dict[str, Any] = {}  # each parsed to its field's type (the default's)
    for f in fields(Settings):
        raw = env.get(f"RISKMODEL_{f.name.upper()}")
        if raw is None or raw == "":
            continue
        if f.default is MISSING:  # every setting has a default: it gives the type
            raise TypeError(f"setting {f.name} has no default")
        kind = type(f.default)
        try:
            value = _parse_bool(raw) if kind is bool else kind(raw)
        except ValueError:
            raise ConfigError(f"RISKMODEL_{f.name.upper()} must be {kind.__name__}; got "
                              f"{raw!r}") from None
        if kind in (int, float) and value <= 0 and f.name != "default_top_k":
            raise ConfigError(f"RISKMODEL_{f.name.upper()} must be > 0; got {raw!r}")
        values[f.name] = value
    return Settings(**values)


def _parse_bool(raw: str) -> bool:
    word = raw.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def database_url(s: Settings) -> str:
    """The store's URL: ``RISKMODEL_DATABASE_URL``, else SQLite under the data directory
    (which :class:`riskmodel.store.Store` creates when it opens the file)."""
    if s.database_url:
        return s.database_url
    return f"sqlite:///{Path(s.data_dir) / 'riskmodel.sqlite3'}"


def api_keys(s: Settings) -> tuple[str, ...]:
    return tuple(k.strip() for k in s.api_keys.split(",") if k.strip())
