"""``riskmodel monitor``: is the serving model still right? Drift, realized performance,
and a verdict a scheduler can act on."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import click

from commands.common import artifacts_option, artifacts_root, fail, open_store

# exit status of each verdict (docs/monitoring.md); 1 is an error, 2 a usage mistake
EXIT_STATUS = {"ok": 0, "watch": 3, "retrain recommended": 4}


def _day(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date such as 2026-10-01 (YYYY-MM-DD), got "
                                 f"{value!r}", param_hint=name) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@click.command("monitor")
@click.option("--since", default=None, metavar="DATE",
              help="First day of the window (UTC, included); default: the log's start.")
@click.option("--until", default=None, metavar="DATE",
              help="Day after the window (UTC, excluded); default: now.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a self-contained HTML report (plots inline) to this file.")
@click.option("--version", "version", default=None,
              help="Monitor this model version (default: the current one).")
@artifacts_option
def monitor_command(since: str | None, until: str | None, as_json: bool, report: Path | None,
                    version: str | None, artifacts: Path | None) -> None:
    """Compare the campaigns scored in a window, and the outcomes completed in it, with the
    reference the serving model kept of its training data.

    Input drift per factor (PSI and a chi-square test, Holm-adjusted), overall and per
    campaign type; the predicted risk's drift and the expected failures per month; realized
    performance where outcomes arrived (expected against observed failures, ROC AUC,
    Brier, ECE) against the model card, per month and segment; and a verdict.

    Exit status: 0 ok, 3 watch, 4 retrain recommended, 1 an error (an empty window, a
    model version without reference statistics, no store), 2 a usage mistake.
    """
    from riskmodel import RiskModelError, load_model, load_reference, monitor

    start, end = _day(since, "--since"), _day(until, "--until")
    if start is not None and end is not None and end <= start:
        raise click.BadParameter(f"--until {until} must be after --since {since}",
                                 param_hint="--until")
    if report is not None and report.suffix.lower() not in (".html", ".htm"):
        raise click.BadParameter(f"expected an .html file name, got {report.name!r}",
                                 param_hint="--report")
    root = artifacts_root(artifacts)
    try:
        scorer = load_model(version, root=root)
        reference = load_reference(root, scorer.version)
    except RiskModelError as e:
        raise fail(e) from None
    store = open_store(create=False)
    try:
        result = monitor(store, scorer, reference, since=start, until=end)
    except RiskModelError as e:
        raise fail(e) from None
    finally:
        store.dispose()
    if report is not None:
        from training.monitoring_report import write_report

        write_report(result, report)
        click.echo(f"report: {report}", err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(summary(result))
    click.get_current_context().exit(EXIT_STATUS[result["verdict"]])


def summary(result: dict) -> str:
    """The verdict and the figures behind it, for a terminal."""
    w, perf = result["window"], result["performance"]
    lines = [f"model {result['model_version']}: {result['verdict'].upper()}"]
    lines += [f"  - {r}" for r in result["reasons"]]
    lines.append(f"window: {w['since'] or 'start'} to {w['until'] or 'now'}, "
                 f"{w['campaigns']} campaigns scored"
                 + (f" ({w['invalid_plans']} logged plans no longer valid, left out)"
                    if w["invalid_plans"] else ""))
    moved = [r for r in result["input_drift"]["factors"] if r["moved"]]
    lines.append("input drift: " + (", ".join(f"{r['factor']} PSI {r['psi']:.2f}"
                                              for r in moved) or "no factor moved"))
    s = result["score_drift"]
    lines.append(f"predicted risk: mean {s['mean_risk']:.3f} (training "
                 f"{s['reference_mean_risk']:.3f}), PSI {s['psi']:.3f}")
    if "overall" in perf:
        o, card = perf["overall"], perf["card"]
        auc = "n/a" if o["roc_auc"] is None else f"{o['roc_auc']:.3f}"
        card_auc = "n/a" if card.get("roc_auc") is None else f"{card['roc_auc']:.3f}"
        lines.append(f"outcomes: {perf['outcomes']}; failures observed {o['observed']}, "
                     f"expected {o['expected']:.1f} (95% {o['interval'][0]:.1f}–"
                     f"{o['interval'][1]:.1f}); ROC AUC {auc} (card {card_auc}); Brier "
                     f"{o['brier']:.3f}; ECE {o['ece']:.3f}")
    else:
        lines.append(f"outcomes: {perf.get('note', 'none')}")
    unmatched = perf["unmatched_outcomes"]
    if unmatched["count"]:
        lines.append(f"outcomes that never matched a logged prediction: {unmatched['count']} "
                     f"({', '.join(unmatched['campaign_ids'][:10])}"
                     f"{', …' if unmatched['count'] > 10 else ''})")
    return "\n".join(lines)
