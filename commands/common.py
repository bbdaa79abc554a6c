"""What every command shares: the settings from the environment, clear failures, the store,
the artifacts root, who is acting and which code is running."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import click

from riskmodel import ConfigError, Settings, __version__, settings


def environment() -> Settings:
    """``RISKMODEL_*`` from the environment; a bad value is one clear error (exit 1)."""
    try:
        return settings(os.environ)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def artifacts_root(given: Path | None) -> Path:
    """``--artifacts`` when given, else ``RISKMODEL_ARTIFACTS`` (default ``./artifacts``)."""
    return given if given is not None else Path(environment().artifacts)


artifacts_option = click.option(
    "--artifacts", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Artifacts root (default: RISKMODEL_ARTIFACTS or ./artifacts).")


def fail(e: Exception) -> click.ClickException:
    """A user's mistake (bad file, unknown version...) as one clear message, exit 1."""
    return click.ClickException(str(e))


def open_store():
    """The store named by the environment, migrated; one clear error if it cannot open."""
    from riskmodel import Store, database_url

    try:
        store = Store(database_url(environment()))
        store.migrate()
    except click.ClickException:
        raise
    except Exception as e:  # noqa: BLE001  an unreachable or unusable database
        raise click.ClickException(f"the store cannot be opened: {e}") from None
    return store


def who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "unknown"


def code_version() -> str:
    """The package version, plus the git commit when run from a checkout."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                             capture_output=True, text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=5)
        suffix = "-dirty" if dirty.stdout.strip() else ""
        return f"{__version__}+g{sha.stdout.strip()}{suffix}"
    except (OSError, subprocess.SubprocessError):
        return __version__

