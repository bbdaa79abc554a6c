"""``riskmodel generate``, ``train`` and ``retrain``: the history, a model, a challenger."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commands.common import (
    artifacts_option,
    artifacts_root,
    code_version,
    fail,
    model_keys,
    open_store,
    who,
)
from riskmodel import RiskModelError


@click.command()
@click.option("--rows", type=click.IntRange(min=1), required=True,
              help="How many campaigns to generate.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed; the same seed always gives the same file.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file, .csv or .parquet.")
@click.option("--with-truth", is_flag=True,
              help="Also write true_failure_probability and true_<family> columns.")
@click.option("--start", default="2023-01-01", show_default=True, metavar="DATE",
              help="First completed_on date (ISO).")
@click.option("--end", default="2026-10-31", show_default=True, metavar="DATE",
              help="Last completed_on date (ISO).")
@click.option("--id-prefix", default="C", show_default=True,
              help="Campaign ids are <prefix><seed>-<row>.")
@click.option("--shift-delay-days", type=float, default=0.0, show_default=True,
              help="Shift the world: add this many days to every material delay "
                   "(later materials).")
@click.option("--shift-budget-ratio", type=click.FloatRange(min=0, min_open=True),
              default=1.0, show_default=True,
              help="Shift the world: multiply every committed budget by this (below 1: "
                   "lower budget ratios).")
@click.option("--shift-category-mix", default=None, metavar="CAT=SHARE,...",
              help="Shift the world: draw categories with these shares instead "
                   "(e.g. pet_smart_devices=0.5,home=0.5; categories not named get none).")
@click.option("--shift-base-logit", type=float, default=0.0, show_default=True,
              help="Shift the world: add this to every campaign's true failure log-odds "
                   "(a changed base failure rate the plans do not show).")
def generate(rows: int, seed: int, out: Path, with_truth: bool, start: str, end: str,
             id_prefix: str, shift_delay_days: float, shift_budget_ratio: float,
             shift_category_mix: str | None, shift_base_logit: float) -> None:
    """Write a synthetic history of finished campaigns with outcomes (docs/synthetic-data.md;
    the --shift-* options move its world, docs/monitoring.md)."""
    from datetime import date

    from training.synthetic import Shift
    from training.synthetic import generate as make

    if out.suffix.lower() not in (".csv", ".parquet"):
        raise click.BadParameter(f"expected a .csv or .parquet file name, got {out.name!r}",
                                 param_hint="--out")
    for name, value in (("--start", start), ("--end", end)):
        try:
            date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"expected an ISO date such as 2026-01-31, got "
                                     f"{value!r}", param_hint=name) from None
    if end < start:
        raise click.BadParameter(f"--end {end} is before --start {start}", param_hint="--end")
    try:
        shift = Shift(delay_days=shift_delay_days, budget_ratio_factor=shift_budget_ratio,
                      category_share=_shares(shift_category_mix),
                      base_logit=shift_base_logit)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--shift-category-mix") from None
    df = make(rows, seed, with_truth=with_truth, start=start, end=end, shift=shift,
              id_prefix=id_prefix)
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


def _shares(text: str | None) -> dict[str, float] | None:
    """``CAT=SHARE,...`` as a dict; a malformed pair is a clear error."""
    if text is None:
        return None
    out = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = pair.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(f"expected CATEGORY=SHARE pairs separated by commas, "
                                     f"got {pair!r}", param_hint="--shift-category-mix") \
                from None
    return out


@click.command("train")
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

    out = artifacts_root(out)
    try:
        r = train(data, out=out, seed=seed, drop_invalid=drop_invalid, promote=promote,
                  code_version=code_version(), signing_key=model_keys()[0])
    except KeyboardInterrupt:
        click.echo("interrupted: no model version was written", err=True)
        sys.exit(130)
    except (RiskModelError, ValueError) as e:
        raise fail(e) from None
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
    bands, version = r.model.bands_, r.version
    if bands is None or version is None:  # train() always writes a version with its bands
        raise RuntimeError("training returned a model without risk bands or version")
    click.echo(f"bands: medium from {bands[0]:.2f}, high from {bands[1]:.2f}")
    click.echo(f"version {version} written to {Path(out) / 'models' / version}")


@click.command()
@click.option("--base", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The base history the recorded outcomes are added to.")
@artifacts_option
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

    signing_key, verify_key = model_keys()
    store = open_store(create=False)
    try:
        report = run(store, artifacts_root(artifacts), base=base,
                     policy=GatePolicy(min_new, auc_margin, 0.0, holdout_share),
                     by=who(), code_version=code_version(), signing_key=signing_key,
                     verify_key=verify_key)
    except KeyboardInterrupt:
        click.echo("interrupted: nothing was promoted", err=True)
        sys.exit(130)
    except (RiskModelError, ValueError) as e:
        raise fail(e) from None
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
