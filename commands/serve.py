"""``riskmodel serve``: the scoring service."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commands.common import environment


@click.command()
@click.option("--dev", is_flag=True, help="Use Flask's development server instead of gunicorn.")
@click.option("--bind", default=None, help="host:port to listen on (default RISKMODEL_BIND "
              "or 127.0.0.1:8000).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="gunicorn workers (default RISKMODEL_WORKERS or 2).")
def serve(dev: bool, bind: str | None, workers: int | None) -> None:
    """Run the scoring service (gunicorn with service/gunicorn_conf.py)."""
    import os
    import tempfile

    settings = environment()
    _pin_store(settings)
    if bind:
        os.environ["RISKMODEL_BIND"] = bind
    if workers:
        os.environ["RISKMODEL_WORKERS"] = str(workers)
    if dev:
        from service import create_app

        host, _, port = (bind or settings.bind).rpartition(":")
        create_app().run(host=host or "127.0.0.1", port=int(port), debug=False)
        return
    # metrics from every worker are aggregated through files in this directory
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="riskmodel-metrics-")
    import service

    conf = Path(service.__file__).resolve().parent / "gunicorn_conf.py"
    args = [sys.executable, "-m", "gunicorn", "--config", str(conf), "service:create_app()"]
    os.execv(sys.executable, args)


def _pin_store(settings) -> None:
    """Open (create, migrate) the SQLite store once, before any worker starts, show where
    it is, and pass its absolute location and file identity to the workers: each refuses
    any other file, one restarted after the data folder vanished too. A store that cannot
    be opened is a warning: scoring works without it."""
    import os

    from riskmodel import Store, database_url

    try:
        store = Store(database_url(settings))
    except Exception as e:  # noqa: BLE001  outcomes will answer 503 until it can be opened
        click.echo(f"warning: the store cannot be opened ({e}); scoring works, outcome "
                   f"posts answer 503 store-unavailable", err=True)
        return
    try:
        click.echo(f"store: {store.location}", err=True)
        if store.path is None:  # a database server: the workers open it when needed
            return
        try:
            store.migrate()
        except Exception as e:  # noqa: BLE001
            click.echo(f"warning: the store cannot be migrated ({e}); outcome posts answer "
                       f"503 store-unavailable until it can", err=True)
        if settings.database_url:
            os.environ["RISKMODEL_DATABASE_URL"] = store.url  # its path made absolute
        else:
            os.environ["RISKMODEL_DATA_DIR"] = settings.data_dir  # absolute: environment()
        if store.file_id is not None:
            os.environ["RISKMODEL_STORE_FILE_ID"] = "{}:{}".format(*store.file_id)
    finally:
        store.dispose()
