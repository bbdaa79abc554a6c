"""``riskmodel serve``: the scoring service."""

from __future__ import annotations

import click

from commands.common import environment


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
    if dev:
        from service import create_app

        create_app().run(host=host, port=port, debug=False)
        return
    try:
        run(settings)
    except AddressInUse as e:
        raise click.ClickException(f"{e.strerror} (is another server running there?)") from None
