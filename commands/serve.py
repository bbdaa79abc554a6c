"""``riskmodel serve``: the scoring service."""

from __future__ import annotations

import click

from commands.common import environment, model_keys


@click.command()
@click.option("--dev", is_flag=True, help="Use Flask's development server instead of granian.")
@click.option("--bind", default=None, help="host:port to listen on (default RISKMODEL_BIND "
              "or 127.0.0.1:8000).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default RISKMODEL_WORKERS or 2).")
def serve(dev: bool, bind: str | None, workers: int | None) -> None:
    """Run the scoring service (granian, configured by service/server.py)."""
    from dataclasses import replace

    from service.server import AddressInUse, options, split_bind
    from service.server import serve as run

    settings = environment()
    settings = replace(settings, bind=bind or settings.bind,
                       workers=workers or settings.workers)
    try:
        host, port = split_bind(settings.bind)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--bind") from None
    try:
        options(settings)  # every setting granian takes, checked before anything starts
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    model_keys()  # a key file that cannot be read stops here, before any worker starts
    _pin_store(settings)
    if dev:
        from service import create_app

        create_app().run(host=host, port=port, debug=False)
        return
    try:
        run(settings)
    except AddressInUse as e:
        raise click.ClickException(f"{e.strerror} (is another server running there?)") from None


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
