"""``riskmodel outcomes import|check``: what happened to finished campaigns."""

from __future__ import annotations

from pathlib import Path

import click

from commands.common import open_store


@click.group()
def outcomes() -> None:
    """Outcomes of finished campaigns: import and check."""


@outcomes.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--correction", is_flag=True,
              help="Replace outcomes already recorded instead of refusing a difference.")
def outcomes_import(path: Path, correction: bool) -> None:
    """Record outcomes from a CSV or Parquet file (campaign_id, failed, failure_reason,
    completed_on; plan columns too for campaigns never scored). All or nothing."""
    from riskmodel import (
        SCHEMA,
        ErrorList,
        OutcomeConflict,
        UnknownCampaign,
        parse_outcome,
        read_table,
    )

    df = read_table(path)
    plan_columns = [c for c in SCHEMA.names if c in df.columns]
    has_plan = len(plan_columns) > 1  # more than the campaign id
    keys = ("campaign_id",) + tuple(c.name for c in SCHEMA.outcome_columns)
    items, errors = [], ErrorList(None)
    records = df.astype(object).where(df.notna(), None).to_dict("records")
    for i, rec in enumerate(records, 1):
        item = {k: rec[k] for k in keys if rec.get(k) not in (None, "")}
        if has_plan:
            item["plan"] = {k: rec[k] for k in plan_columns if rec.get(k) not in (None, "")}
        parsed, errs = parse_outcome(item, i, strict=False)
        errors.add_all(errs)
        if parsed is not None:
            items.append(dict(parsed, correction=correction))
    if errors:
        raise click.ClickException(str(errors.error()))
    store = open_store()
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
    """Check the store's integrity (a store that does not exist is an error, never
    created)."""
    store = open_store(create=False)
    try:
        problems = store.integrity_check()
        n = store.outcome_count()
    finally:
        store.dispose()
    if problems:
        raise click.ClickException("; ".join(problems))
    click.echo(f"store sound: {n} outcomes, schema version {store.schema_version()}")
