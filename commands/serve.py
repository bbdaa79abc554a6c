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
    """Pin the SQLite store's file before any worker starts: create it (and its folder)
    if missing so that it has an identity, show where it is, and pass its absolute
    location and identity (device:inode) to the workers: each refuses any other file, one
    restarted after the data folder vanished too. No SQLAlchemy here (a tenth of a second
    of start-up): each worker opens the store and migrates it on first use (migrations
    take SQLite's write lock, so two workers migrating at once apply each step once). A
    store that cannot be created is a warning: scoring works without it. A database
    server is not opened here: the workers open it when needed."""
    import os
    from urllib.parse import quote

    from riskmodel import (
        StoreUnavailable,
        database_url,
        open_store_file,
        shown_url,
        store_file,
    )

    url = database_url(settings)
    path = store_file(url)
    if path is None:  # a database server (or SQLite in memory): shown without its password
        click.echo(f"store: {shown_url(url)}", err=True)
        return
    click.echo(f"store: {path}", err=True)
    try:
        device, inode = open_store_file(path)
    except StoreUnavailable as e:  # outcomes will answer 503 until it can be created
        click.echo(f"warning: the store cannot be opened ({e}); scoring works, outcome "
                   f"posts answer 503 store-unavailable", err=True)
        return
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        click.echo(f"warning: the store {path} or its folder is read-only; scoring works, "
                   f"outcome posts answer 503 store-unavailable until it is writable",
                   err=True)
    if settings.database_url:  # its path made absolute, the rest kept
        scheme, query = url.partition("://")[0], url.partition("?")[2]
        os.environ["RISKMODEL_DATABASE_URL"] = f"{scheme}:///{quote(str(path), safe='/')}" \
            + (f"?{query}" if query else "")
    else:
        os.environ["RISKMODEL_DATA_DIR"] = settings.data_dir  # absolute: environment()
    os.environ["RISKMODEL_STORE_FILE_ID"] = f"{device}:{inode}"

