"""``riskmodel score``: batch-score a file of planned campaigns."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commands.common import artifacts_option, artifacts_root, fail, model_keys, open_store
from riskmodel import RiskModelError


@click.command("score")
@click.option("--in", "src", required=True, help="Planned campaigns: .csv, .parquet, .xlsx "
              "(an Excel workbook), or - for CSV on standard input.")
@click.option("--out", "dst", required=True, help="Scored output: .csv, .parquet, .xlsx (a "
              "workbook to read: bands in colour, factors and actions in words, rejected "
              "rows), or - for CSV on standard output.")
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
              help="Also write the quarter view (summary, distribution, leading causes, "
                   "action list, riskiest campaigns, rejected rows) as one self-contained, "
                   "printable HTML file. Needs --out to be a file.")
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
    import shutil
    import tempfile

    from batch import is_workbook, score_file, summary_lines
    from riskmodel import load_model

    if version is not None and not version.strip():
        raise click.BadParameter("is empty; name a model version, or leave --model out to "
                                 "use CURRENT", param_hint="--model")
    if src != "-" and Path(src).is_dir():
        raise click.BadParameter(f"{src} is a folder; expected a .csv or .parquet file, or - "
                                 f"for standard input", param_hint="--in")
    if report and dst == "-":
        raise click.UsageError("--report is built from the scored rows: give --out a file")
    store = open_store() if log_predictions else None
    out: str | Path = dst
    tmp: Path | None = None
    if report and is_workbook(dst):  # scored to Parquet first; the report and the
        tmp = Path(tempfile.mkdtemp(prefix=".riskmodel-", dir=Path(dst).parent))  # workbook
        out = tmp / "scored.parquet"  # are both made from it
        rejects = rejects or Path(dst).with_name(Path(dst).stem + ".rejects.csv")
    try:
        scorer = load_model(version, root=artifacts_root(artifacts),
                            verify_key=model_keys()[1])
        top_k = scorer.check_top_k(top_k)
        summary = score_file(src, out, scorer, top_k=top_k, strict=strict, rejects=rejects,
                             log_to=store, workers=workers)
        if report:
            _write_report(report, src, out, dst, summary, scorer)
    except KeyboardInterrupt:
        click.echo("interrupted: no output was written", err=True)
        sys.exit(130)
    except (RiskModelError, ValueError, OSError) as e:
        raise fail(e) from None
    finally:
        if store is not None:
            store.dispose()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    for line in summary_lines(summary):
        click.echo(line, err=True)
    if report:
        click.echo(f"report written to {report}", err=True)
    if summary.rejected_rows:
        sys.exit(3)


def _write_report(report: Path, src: str, scored, dst: str, summary, scorer) -> None:
    """The quarter view of the workbench as one file; and the workbook, when the output is
    one, made from the same scored rows (with the quarter's actions)."""
    from batch import is_workbook, summarise_quarter, write_scored_workbook
    from service.workbench import render_report

    name = "standard input" if src == "-" else Path(src).name
    q = summarise_quarter(scored, summary.rejects_path, bands=scorer.bands, source=name,
                          table_rows=500)
    if is_workbook(dst):
        part = Path(dst).with_name(f".{Path(dst).name}.part")
        write_scored_workbook(scored, summary.rejects_path, part, actions=q.actions)
        part.replace(dst)
    report.write_text(render_report(q, title=f"Quarter check: {name}"), encoding="utf-8")
