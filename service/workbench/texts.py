"""The words the workbench's scripts write (check.js, quarter.js, table.js), in the page's
language: one JSON block per page (``page-text``), read by the scripts, never executed.
Placeholders are ``{name}``, filled by the scripts."""

from __future__ import annotations

from functools import cache

from riskmodel import N_
from service.i18n import gettext_in

TEXTS = {
    "fix_fields": N_("Fix the fields marked in the form, then check again."),
    "checking": N_("Checking…"),
    "error": N_("Error"),
    "applied": N_("Applied “{target}”: risk {before} → {after}."),
    "failed": N_("The check failed: {error}"),
    "one_problem": N_("1 problem"),
    "problems": N_("{n} problems"),
    "band_risk": N_("{band} risk"),
    "model_bands": N_("Model {version}. Bands: medium from {medium}, high from {high}."),
    "reason_tail": N_(" ({log_odds} log-odds; without it the risk would be {risk})"),
    "apply": N_("Apply “{target}”: risk {risk}"),
    "none_raises": N_("No factor raises the risk above the average campaign's."),
    "lowers": N_("{factor} ({log_odds} log-odds)"),
    "none_lowers": N_("Nothing lowers the risk below the average campaign's."),
    "base": N_("Average campaign (base)"),
    "smaller": N_("{n} smaller factors"),
    "this_campaign": N_("This campaign: {risk}"),
    "even_odds": N_("0 = even odds (50%)"),
    "total": N_("Total = log-odds of {risk}"),
    "expected": N_("{message} Expected: {threshold}."),
    "choose_file": N_("Choose a plan file to upload."),
    "file_too_large": N_("This file is {size} MiB; the page checks plans up to {limit} MiB. "
                         "Score it with the command line: riskmodel score --in PLAN --out "
                         "scored.csv --report report.html"),
    "scoring": N_("Scoring…"),
    "showing": N_("Showing {shown} of {total} campaigns."),
    "low": N_("low"), "medium": N_("medium"), "high": N_("high"),
}


@cache
def page_text(locale: str) -> dict[str, str]:
    """The scripts' words in ``locale`` (made once per language)."""
    return {key: gettext_in(locale, text) for key, text in TEXTS.items()}
