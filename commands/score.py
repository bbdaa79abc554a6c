"""``riskmodel score``: batch-score a file of planned campaigns."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commands.common import artifacts_option, artifacts_root, fail, open_store
from riskmodel import RiskModelError


@click.command("score")
@click.option("--in", "src", required=True, help="Planned campaigns: .csv, .parquet, or - "
              "for CSV on standard input.")
@click.option("--out", "dst", required=True, help="Scored output: .csv, .parquet, or - for "
              "CSV on standard output.")
@click.option("--model", "version", default=None, help="Model version (default: CURRENT).")
@artifacts_option
@click.option("--top-k", type=click.IntRange(min=0), default=3, show_default=True,
              help="How many factors to explain per campaign (at most the model's number of "
                   "factors).")
@click.option("--strict", is_flag=True, help="Fail before writing anything if any row is "
              "invalid.")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where invalid rows go (default: beside the output, NAME.rejects.csv).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the summary as a self-contained HTML page.")
@click.option("--log-predictions", is_flag=True,
              help="Record every scored campaign in the store's prediction log, so its "
                   "outcome can later be joined to what was known before launch.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes scoring in parallel (default: one per core, at most 4). The "
                   "output is the same for any number.")
def score_command(src: str, dst: str, version: str | None, artifacts: Path | None, top_k: int,
                  strict: bool, rejects: Path | None, report: Path | None,
                  log_predictions: bool, workers: int | None) -> None:
    """Score every planned campaign of a file.

    Exit status: 0 when every row was scored, 3 when some rows were rejected (see the
    rejects file), 1 on an error, 130 when interrupted.
    """
    from batch import render_html, score_file, summary_lines
    from riskmodel import load_model

    if version is not None and not version.strip():
        raise click.BadParameter("is empty; name a model version, or leave --model out to "
                                 "use CURRENT", param_hint="--model")
    if src != "-" and Path(src).is_dir():
        raise click.BadParameter(f"{src} is a folder; expected a .csv or .parquet file, or - "
                                 f"for standard input", param_hint="--in")
    store = open_store() if log_predictions else None
    try:
        scorer = load_model(version, root=artifacts_root(artifacts))
        top_k = scorer.check_top_k(top_k)
        summary = score_file(src, dst, scorer, top_k=top_k, strict=strict, rejects=rejects,
                             log_to=store, workers=workers)
    except KeyboardInterrupt:
        click.echo("interrupted: no output was written", err=True)
        sys.exit(130)
    except (RiskModelError, ValueError, OSError) as e:
        raise fail(e) from None
    finally:
        if store is not None:
            store.dispose()
    for line in summary_lines(summary):
        click.echo(line, err=True)
    if report:
        report.write_text(render_html(summary), encoding="utf-8")
        click.echo(f"report written to {report}", err=True)
    if summary.rejected_rows:
        sys.exit(3)
