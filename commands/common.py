"""What every command shares: the settings from the environment, clear failures, the store,
the artifacts root, who is acting and which code is running."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import click

from commands.i18n import _
from riskmodel import N_, ConfigError, Settings, __version__, settings


def environment() -> Settings:
    """``RISKMODEL_*`` from the environment; a bad value is one clear error (exit 1). The
    data directory (default ``var``) is made absolute here, against the folder the
    command runs in, and :func:`open_store` shows the store it names."""
    try:
        s = settings(os.environ)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    return replace(s, data_dir=os.path.abspath(s.data_dir))


def artifacts_root(given: Path | None) -> Path:
    """``--artifacts`` when given, else ``RISKMODEL_ARTIFACTS`` (default ``./artifacts``)."""
    return given if given is not None else Path(environment().artifacts)


artifacts_option = click.option(
    "--artifacts", type=click.Path(file_okay=False, path_type=Path), default=None,
    help=_(N_("Artifacts root (default: RISKMODEL_ARTIFACTS or ./artifacts).")))


def model_keys() -> tuple[bytes | None, bytes | None]:
    """The keys ``RISKMODEL_SIGNING_KEY`` and ``RISKMODEL_VERIFY_KEY`` name, read:
    ``(signing, verify)``, None where unset; one clear error if a file cannot be read."""
    from riskmodel import KeyFileError
    from riskmodel import model_keys as read

    s = environment()
    try:
        return read(s.signing_key, s.verify_key)
    except KeyFileError as e:
        raise click.ClickException(str(e)) from None


def fail(e: Exception) -> click.ClickException:
    """A user's mistake (bad file, unknown version...) as one clear message, exit 1."""
    return click.ClickException(str(e))


def open_store(create: bool = True):
    """The store named by the environment, migrated; one clear error if it cannot open.

    Says which store on stderr. Commands that only read pass ``create=False``: a store
    that does not exist is then an error naming where it was looked for, never a new empty
    one.
    """
    from riskmodel import Store, StoreMissing, database_url

    conf = environment()
    try:
        store = Store(database_url(conf), create=create)
        click.echo(f"store: {store.location}", err=True)
        store.migrate()
    except StoreMissing as e:
        where = "RISKMODEL_DATABASE_URL" if conf.database_url else \
            f"RISKMODEL_DATA_DIR (now {os.environ.get('RISKMODEL_DATA_DIR') or 'var'!r}, " \
            f"relative to {os.getcwd()})"
        raise click.ClickException(f"{e}; set {where} to where the store is") from None
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

