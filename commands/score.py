"""``riskmodel score``: batch-score a file of planned campaigns."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from commands.common import artifacts_option, artifacts_root, fail, model_keys, open_store
from commands.i18n import _
from riskmodel import N_, RiskModelError, negotiate_locale


# The help is read in the command's language when this module is imported (on first use,
# after commands.main has chosen the language).
@click.command("score", help=_(N_(
    "Score every planned campaign of a file.\n\nExit status: 0 when every row was scored, 3 "
    "when some rows were rejected (see the rejects file), 1 on an error, 130 when "
    "interrupted.")))
@click.option("--in", "src", required=True, help=_(N_(
    "Planned campaigns: .csv, .parquet, .xlsx (an Excel workbook), or - for CSV on standard "
    "input.")))
@click.option("--out", "dst", required=True, help=_(N_(
    "Scored output: .csv, .parquet, .xlsx (a workbook to read: bands in colour, factors and "
    "actions in words, rejected rows), or - for CSV on standard output.")))
@click.option("--model", "version", default=None,
              help=_(N_("Model version (default: CURRENT).")))
@artifacts_option
@click.option("--top-k", type=click.IntRange(min=0), default=3, show_default=True,
              help=_(N_("How many factors to explain per campaign (at most the model's "
                        "number of factors).")))
@click.option("--strict", is_flag=True,
              help=_(N_("Fail before writing anything if any row is invalid.")))
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=_(N_("Where invalid rows go (default: beside the output, "
                        "NAME.rejects.csv).")))
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=_(N_("Also write the quarter view (summary, distribution, leading causes, "
                        "action list, riskiest campaigns, rejected rows) as one "
                        "self-contained, printable HTML file. Needs --out to be a file.")))
@click.option("--log-predictions", is_flag=True,
              help=_(N_("Record every scored campaign in the store's prediction log, so its "
                        "outcome can later be joined to what was known before launch.")))
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help=_(N_("Processes scoring in parallel. 1 (the default without --engine "
                        "dask): this process, reading and writing on threads. More: a local "
                        "Dask cluster of that many processes (needs riskmodel[dask]). The "
                        "output is the same for any number.")))
@click.option("--engine", type=click.Choice(["local", "dask"]), default=None,
              help=_(N_("local (default with --workers 1): this process streams the file. "
                        "dask (default with --workers N > 1): a Dask cluster scores the "
                        "file's partitions (needs riskmodel[dask]; input may be an fsspec "
                        "URL, output a folder/ for a Parquet dataset). The output is the "
                        "same.")))
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help=_(N_("With --engine dask: the scheduler of a running Dask cluster (e.g. "
                        "tcp://host:8786), used as it is. Without it a local cluster of "
                        "--workers processes starts for the run.")))
@click.option("--lang", metavar="LANG", default=None,
              help=_(N_("Language of the reasons, mitigations, rejects and report: en or "
                        "zh-CN (default: en; help and messages follow LANG).")))
def score_command(src: str, dst: str, version: str | None, artifacts: Path | None, top_k: int,
                  strict: bool, rejects: Path | None, report: Path | None,
                  log_predictions: bool, workers: int | None, engine: str | None,
                  scheduler: str | None, lang: str | None) -> None:
    import shutil
    import tempfile

    from batch import is_workbook, score_file, summary_lines
    from riskmodel import load_model

    if version is not None and not version.strip():
        raise click.BadParameter(_(N_("is empty; name a model version, or leave --model out "
                                      "to use CURRENT")), param_hint="--model")
    if scheduler and engine == "local":
        raise click.UsageError(_(N_("--scheduler is a Dask cluster's: it goes with --engine "
                                    "dask")))
    if engine == "local" and workers and workers > 1:
        raise click.UsageError(_(N_("--engine local is one process; --workers N > 1 runs a "
                                    "local Dask cluster (--engine dask)")))
    engine = engine or ("dask" if scheduler or (workers and workers > 1) else "local")
    if engine == "local" and src != "-" and Path(src).is_dir():
        raise click.BadParameter(_(N_("{src} is a folder; expected a .csv or .parquet file, "
                                      "or - for standard input")).format(src=src),
                                 param_hint="--in")
    if report and dst == "-":
        raise click.UsageError(_(N_("--report is built from the scored rows: give --out a "
                                    "file")))
    _check_paths(src, dst, rejects, report)
    run = score_file if engine == "local" else _dask_engine(scheduler, workers, report, dst)
    texts = negotiate_locale(lang) if lang else "en"  # the language of the scored texts
    store = open_store() if log_predictions else None
    out: str | Path = dst
    tmp: Path | None = None
    if report and is_workbook(dst):  # scored to Parquet first; the report and the
        tmp = Path(tempfile.mkdtemp(prefix=".riskmodel-", dir=Path(dst).parent))  # workbook
        out = tmp / "scored.parquet"  # are both made from it
        rejects = rejects or Path(dst).with_name(Path(dst).stem + ".rejects.csv")
    try:
        scorer = load_model(version, root=artifacts_root(artifacts),
                            verify_key=model_keys()[1]).with_locale(texts)
        top_k = scorer.check_top_k(top_k)
        summary = run(src, out, scorer, top_k=top_k, strict=strict, rejects=rejects,
                      log_to=store, workers=workers)
        if report:
            _write_report(report, src, out, dst, summary, scorer)
    except KeyboardInterrupt:
        click.echo(_(N_("interrupted: no output was written")), err=True)
        sys.exit(130)
    except (RiskModelError, ValueError, OSError) as e:
        raise fail(e) from None
    finally:
        if store is not None:
            store.dispose()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    for line in summary_lines(summary, _):
        click.echo(line, err=True)
    if report:
        click.echo(_(N_("report written to {path}")).format(path=report), err=True)
    if summary.rejected_rows:
        sys.exit(3)


def _check_paths(src: str, dst: str, rejects: Path | None, report: Path | None) -> None:
    """Refuse, before anything is written, files that clash or a report that cannot be
    written where it is asked for."""
    from batch import check_paths, default_rejects

    try:
        check_paths(input=src, output=dst, rejects_file=rejects or default_rejects(dst),
                    report=report)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    if report is not None:
        folder = report.parent
        if not folder.is_dir():
            raise click.BadParameter(_(N_("{report}: the folder {folder} does not exist; "
                                          "create it first or name another")).format(
                report=report, folder=folder), param_hint="--report")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise click.BadParameter(_(N_("{report}: the folder {folder} cannot be written "
                                          "to")).format(report=report, folder=folder),
                                     param_hint="--report")


def _dask_engine(scheduler: str | None, workers: int | None, report, dst: str):
    """``score_file`` on Dask, after checking the options that go with it."""
    from batch.dask_engine import MISSING, require_dask, score_file_dask

    if scheduler and workers:
        raise click.UsageError(_(N_("--workers sizes a local cluster; the cluster at "
                                    "--scheduler has the workers it has")))
    if report and (dst.endswith("/") or Path(dst).is_dir()):
        raise click.UsageError(_(N_("--report reads one scored file: give --out a .csv or "
                                    ".parquet file, not a dataset folder")))
    try:
        require_dask()
    except RiskModelError:
        raise click.UsageError(MISSING) from None

    def run(src, dst, scorer, **kw):
        return score_file_dask(src, dst, scorer, scheduler=scheduler, **kw)
    return run


def _write_report(report: Path, src: str, scored, dst: str, summary, scorer) -> None:
    """The quarter view of the workbench as one file; and the workbook, when the output is
    one, made from the same scored rows (with the quarter's actions)."""
    from batch import is_workbook, summarise_quarter, write_scored_workbook
    from service.workbench import render_report

    name = "standard input" if src == "-" else Path(src).name
    q = summarise_quarter(scored, summary.rejects_path, bands=scorer.bands, source=name,
                          table_rows=500, locale=scorer.locale)
    if is_workbook(dst):
        part = Path(dst).with_name(f".{Path(dst).name}.part")
        write_scored_workbook(scored, summary.rejects_path, part, actions=q.actions)
        part.replace(dst)
    page = report.with_name(f".{report.name}.part")  # complete or not there
    try:
        page.write_text(render_report(q, locale=scorer.locale), encoding="utf-8")
        page.replace(report)
    finally:
        page.unlink(missing_ok=True)
