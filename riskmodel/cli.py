"""The ``riskmodel`` command line: thin click commands over plain functions."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import click

from riskmodel import __version__, config
from riskmodel.errors import RiskModelError, SchemaError


def _on_sigterm(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


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


def _fail(e: Exception) -> click.ClickException:
    if isinstance(e, SchemaError):
        return click.ClickException(str(e))
    return click.ClickException(str(e))


@click.group()
@click.version_option(__version__, prog_name="riskmodel")
def main() -> None:
    """Failure risk of Amazon co-op campaigns: generate data, train, score, serve."""
    signal.signal(signal.SIGTERM, _on_sigterm)


@main.command()
@click.option("--rows", type=click.IntRange(min=1), required=True,
              help="How many campaigns to generate.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed; the same seed always gives the same file.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file, .csv or .parquet.")
@click.option("--with-truth", is_flag=True,
              help="Also write true_failure_probability and true_<family> columns.")
def generate(rows: int, seed: int, out: Path, with_truth: bool) -> None:
    """Write a synthetic history of finished campaigns with outcomes."""
    from training.synthetic import generate as make

    if out.suffix.lower() not in (".csv", ".parquet"):
        raise click.BadParameter(f"expected a .csv or .parquet file name, got {out.name!r}",
                                 param_hint="--out")
    df = make(rows, seed, with_truth=with_truth)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if out.suffix.lower() == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    click.echo(f"wrote {rows} campaigns to {out}", err=True)


@main.command("train")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="History file (.csv or .parquet) with plan and outcome columns.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Artifacts root (default: RISKMODEL_ARTIFACTS or ./artifacts).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random split, used when the file has no completed_on.")
@click.option("--drop-invalid", is_flag=True,
              help="Train on the valid rows and report the dropped ones, instead of refusing.")
@click.option("--promote/--no-promote", default=None,
              help="Make the new version current (default: only if none is current).")
def train_command(data: Path, out: Path | None, seed: int, drop_invalid: bool,
                  promote: bool | None) -> None:
    """Train on a campaign history and write a new verified model version."""
    from training.train import train

    out = out or config.artifacts_dir()
    try:
        r = train(data, out=out, seed=seed, drop_invalid=drop_invalid, promote=promote,
                  code_version=code_version())
    except KeyboardInterrupt:
        click.echo("interrupted: no model version was written", err=True)
        sys.exit(130)
    except (RiskModelError, ValueError) as e:
        raise _fail(e) from None
    for note in r.notices:
        click.echo(f"notice: {note}", err=True)
    if r.n_dropped:
        click.echo(f"dropped {r.n_dropped} invalid rows:", err=True)
        for reason, count in sorted(r.dropped_reasons.items(), key=lambda kv: -kv[1]):
            click.echo(f"  {count:>7}  {reason}", err=True)
    m = r.metrics
    click.echo(f"trained on {r.n_rows} campaigns, split {r.split}")
    for name, loss in sorted(r.validation_log_loss.items(), key=lambda kv: kv[1]):
        mark = "*" if name == r.chosen else " "
        click.echo(f" {mark} {name:<30} validation log loss {loss:.5f}")
    click.echo(f"test: ROC AUC {m['roc_auc']:.4f}  PR AUC {m['pr_auc']:.4f}  "
               f"Brier {m['brier']:.4f}  log loss {m['log_loss']:.4f}  ECE {m['ece']:.4f}")
    if "bayes_roc_auc" in m:
        click.echo(f"Bayes limit: ROC AUC {m['bayes_roc_auc']:.4f}  Brier "
                   f"{m['bayes_brier']:.4f}  (gap: AUC {m['auc_gap_to_bayes']:+.4f}, "
                   f"Brier {m['brier_gap_to_bayes']:+.4f})")
    click.echo(f"bands: medium from {r.model.bands_[0]:.2f}, high from {r.model.bands_[1]:.2f}")
    click.echo(f"version {r.version} written to {Path(out) / 'models' / r.version}")


@main.command("score")
@click.option("--in", "src", required=True, help="Planned campaigns: .csv, .parquet, or - "
              "for CSV on standard input.")
@click.option("--out", "dst", required=True, help="Scored output: .csv, .parquet, or - for "
              "CSV on standard output.")
@click.option("--model", "version", default=None, help="Model version (default: CURRENT).")
@click.option("--artifacts", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Artifacts root (default: RISKMODEL_ARTIFACTS or ./artifacts).")
@click.option("--top-k", type=click.IntRange(0, 21), default=3, show_default=True,
              help="How many factors to explain per campaign.")
@click.option("--strict", is_flag=True, help="Fail before writing anything if any row is "
              "invalid.")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where invalid rows go (default: beside the output, NAME.rejects.csv).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the summary as a self-contained HTML page.")
def score_command(src: str, dst: str, version: str | None, artifacts: Path | None, top_k: int,
                  strict: bool, rejects: Path | None, report: Path | None) -> None:
    """Score every planned campaign of a file.

    Exit status: 0 when every row was scored, 3 when some rows were rejected (see the
    rejects file), 1 on an error, 130 when interrupted.
    """
    from riskmodel.batch import score_file
    from riskmodel.report import render_html, summary_lines
    from riskmodel.scoring import load_model

    try:
        scorer = load_model(version, root=artifacts or config.artifacts_dir())
        summary = score_file(src, dst, scorer, top_k=top_k, strict=strict, rejects=rejects)
    except KeyboardInterrupt:
        click.echo("interrupted: no output was written", err=True)
        sys.exit(130)
    except (RiskModelError, ValueError, OSError) as e:
        raise _fail(e) from None
    for line in summary_lines(summary):
        click.echo(line, err=True)
    if report:
        report.write_text(render_html(summary), encoding="utf-8")
        click.echo(f"report written to {report}", err=True)
    if summary.rejected_rows:
        sys.exit(3)


@main.command()
@click.option("--dev", is_flag=True, help="Use Flask's development server instead of gunicorn.")
@click.option("--bind", default=None, help="host:port to listen on (default RISKMODEL_BIND "
              "or 127.0.0.1:8000).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="gunicorn workers (default RISKMODEL_WORKERS or 2).")
def serve(dev: bool, bind: str | None, workers: int | None) -> None:
    """Run the scoring service (gunicorn with service/gunicorn_conf.py)."""
    import os
    import tempfile

    try:
        settings = config.settings()
    except config.ConfigError as e:
        raise click.ClickException(str(e)) from None
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


if __name__ == "__main__":  # pragma: no cover
    main()
