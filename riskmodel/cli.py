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
    """A user's mistake (bad file, unknown version...) as one clear message, exit 1."""
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
    from riskmodel.batch import score_file
    from riskmodel.report import render_html, summary_lines
    from riskmodel.scoring import load_model

    store = _store() if log_predictions else None
    try:
        scorer = load_model(version, root=artifacts or config.artifacts_dir())
        summary = score_file(src, dst, scorer, top_k=top_k, strict=strict, rejects=rejects,
                             log_to=store, workers=workers)
    except KeyboardInterrupt:
        click.echo("interrupted: no output was written", err=True)
        sys.exit(130)
    except (RiskModelError, ValueError, OSError) as e:
        raise _fail(e) from None
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


def _store():
    from riskmodel.store import Store

    try:
        store = Store(config.database_url(config.settings()))
        store.migrate()
    except Exception as e:  # noqa: BLE001  an unreachable or unusable database
        raise click.ClickException(f"the store cannot be opened: {e}") from None
    return store


def _who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "unknown"


@main.group()
def outcomes() -> None:
    """Outcomes of finished campaigns: import and check."""


@outcomes.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--correction", is_flag=True,
              help="Replace outcomes already recorded instead of refusing a difference.")
def outcomes_import(path: Path, correction: bool) -> None:
    """Record outcomes from a CSV or Parquet file (campaign_id, failed, failure_reason,
    completed_on; plan columns too for campaigns never scored). All or nothing."""
    from riskmodel.schema import SCHEMA
    from riskmodel.store import OutcomeConflict, UnknownCampaign
    from riskmodel.validation import parse_outcome, read_table

    df = read_table(path)
    plan_columns = [c for c in SCHEMA.names if c in df.columns]
    has_plan = len(plan_columns) > 1  # more than the campaign id
    keys = ("campaign_id",) + tuple(c.name for c in SCHEMA.outcome_columns)
    items, errors = [], []
    records = df.astype(object).where(df.notna(), None).to_dict("records")
    for i, rec in enumerate(records, 1):
        item = {k: rec[k] for k in keys if rec.get(k) not in (None, "")}
        if has_plan:
            item["plan"] = {k: rec[k] for k in plan_columns if rec.get(k) not in (None, "")}
        parsed, errs = parse_outcome(item, i, strict=False)
        errors += errs
        if parsed is not None:
            items.append(dict(parsed, correction=correction))
    if errors:
        raise click.ClickException(str(SchemaError(errors)))
    store = _store()
    try:
        results = store.record_outcomes(items)
    except (OutcomeConflict, UnknownCampaign) as e:
        raise click.ClickException(str(e)) from None
    finally:
        store.dispose()
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    click.echo(f"{len(results)} outcomes: " + ", ".join(f"{n} {k}" for k, n in counts.items()))


@outcomes.command("check")
def outcomes_check() -> None:
    """Check the store's integrity."""
    store = _store()
    try:
        problems = store.integrity_check()
        n = store.outcome_count()
    finally:
        store.dispose()
    if problems:
        raise click.ClickException("; ".join(problems))
    click.echo(f"store sound: {n} outcomes, schema version {store.schema_version()}")


@main.command()
@click.option("--base", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The base history the recorded outcomes are added to.")
@click.option("--artifacts", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Artifacts root (default: RISKMODEL_ARTIFACTS or ./artifacts).")
@click.option("--min-new", type=click.IntRange(min=1), default=200, show_default=True,
              help="Outcomes needed before a challenger is trained.")
@click.option("--auc-margin", type=float, default=0.01, show_default=True,
              help="How much lower than the champion's the challenger's AUC may be.")
@click.option("--holdout-share", type=click.FloatRange(0.05, 0.9), default=0.3,
              show_default=True, help="Share of the most recent outcomes held out.")
def retrain(base: Path | None, artifacts: Path | None, min_new: int, auc_margin: float,
            holdout_share: float) -> None:
    """Train a challenger on the base history plus recorded outcomes; promote it only if
    it passes the gate against the serving model. Exit 0 promoted, 4 refused."""
    from training.retrain import GatePolicy
    from training.retrain import retrain as run

    store = _store()
    try:
        report = run(store, artifacts or config.artifacts_dir(), base=base,
                     policy=GatePolicy(min_new, auc_margin, 0.0, holdout_share),
                     by=_who(), code_version=code_version())
    except KeyboardInterrupt:
        click.echo("interrupted: nothing was promoted", err=True)
        sys.exit(130)
    except (RiskModelError, ValueError) as e:
        raise _fail(e) from None
    finally:
        store.dispose()
    ch, cc = report["champion"], report["challenger"]
    click.echo(f"champion {ch['version']}: AUC {ch['roc_auc']:.4f} Brier {ch['brier']:.4f}; "
               f"challenger {report['version']}: AUC {cc['roc_auc']:.4f} Brier "
               f"{cc['brier']:.4f} on {report['holdout_rows']} recent outcomes")
    click.echo(f"decision: {report['decision']}"
               + (": " + "; ".join(report["reasons"]) if report["reasons"] else ""))
    if report["decision"] != "promoted":
        sys.exit(4)


@main.group()
def models() -> None:
    """The model registry: list, show, promote, roll back."""


def _registry(artifacts: Path | None):
    from riskmodel.registry import Registry

    return Registry(artifacts or config.artifacts_dir())


_artifacts_option = click.option("--artifacts", type=click.Path(file_okay=False,
                                                                path_type=Path),
                                  default=None, help="Artifacts root.")


@models.command("list")
@_artifacts_option
def models_list(artifacts: Path | None) -> None:
    """Every version, which one is serving, and how it got there."""
    reg = _registry(artifacts)
    current = reg.current_version()
    events = {e["version"]: e for e in reg.history()}
    for version in reg.versions():
        try:
            m = reg.manifest(version)
            auc = m.get("metrics", {}).get("roc_auc")
            gate = m.get("gate", {}).get("decision", "")
            line = f"{m.get('created_at', '?'):<26} AUC {auc:.4f}  {gate:<9}"
        except RiskModelError as e:
            line = f"unreadable: {e}"
        mark = "*" if version == current else " "
        ev = events.get(version)
        how = f"  {ev['action']} by {ev['by']}: {ev['reason']}" if ev else ""
        click.echo(f"{mark} {version}  {line}{how}")


@models.command("show")
@click.argument("version")
@_artifacts_option
def models_show(version: str, artifacts: Path | None) -> None:
    """A version's manifest summary and gate report."""
    import json

    reg = _registry(artifacts)
    try:
        m = reg.verify(version)
    except RiskModelError as e:
        raise _fail(e) from None
    summary = {k: m.get(k) for k in ("version", "created_at", "code_version", "model",
                                     "bands", "training_data", "gate")}
    summary["metrics"] = {k: v for k, v in m.get("metrics", {}).items()
                          if k != "calibration_table"}
    summary["serving"] = version == reg.current_version()
    click.echo(json.dumps(summary, indent=2, default=str))


@models.command("promote")
@click.argument("version")
@click.option("--reason", default="promoted by hand", show_default=True)
@_artifacts_option
def models_promote(version: str, reason: str, artifacts: Path | None) -> None:
    """Make a verified version current (the service picks it up without a restart)."""
    try:
        event = _registry(artifacts).promote(version, by=_who(), reason=reason)
    except RiskModelError as e:
        raise _fail(e) from None
    click.echo(f"{event['version']} is current (was {event['previous']})")


@models.command("rollback")
@_artifacts_option
def models_rollback(artifacts: Path | None) -> None:
    """Return to the version that was current before the current one."""
    try:
        event = _registry(artifacts).rollback(by=_who())
    except RiskModelError as e:
        raise _fail(e) from None
    click.echo(f"rolled back to {event['version']} (from {event['previous']})")


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
