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
