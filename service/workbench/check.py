"""``/``: check one campaign before launch. The form is built from the contract; the page's
script sends it to ``POST /v1/score`` (the API's own validation and messages) and draws the
answer. The address carries the campaign, so a check can be sent to a colleague."""

from __future__ import annotations

from functools import cache

from flask import current_app, render_template, request

from riskmodel import (
    ADVICE,
    FACTORS,
    FAMILIES,
    N_,
    SCHEMA,
    advice_text,
    allowed_in,
    family_label,
    gettext,
    label,
    language_tag,
    value_label,
)
from service.i18n import gettext_in, locale_of
from service.workbench.blueprint import bp


def _hint(c, locale: str) -> str:
    unknown = "" if c.required else " " + gettext_in(locale, LEAVE_EMPTY)
    allowed = allowed_in(c.allowed(), locale)
    if c.kind in ("number", "integer", "string"):
        return f"{allowed[0].upper()}{allowed[1:]}{gettext_in(locale, '.')}" + \
            (unknown if c.kind != "string" else "")
    return unknown.strip()


LEAVE_EMPTY = N_("Leave empty if unknown.")
YES_NO = (N_("Yes"), N_("No"))
THE_CAMPAIGN = N_("The campaign")


def _fields(locale: str) -> list[dict]:
    """Every plan column as a form field, grouped by family in contract order."""
    out = []
    for c in SCHEMA.columns:
        options = []
        if c.kind == "category":
            options = [(v, value_label(v, locale)) for v in c.categories]
        elif c.kind == "boolean":
            options = [("true", gettext_in(locale, YES_NO[0])),
                       ("false", gettext_in(locale, YES_NO[1]))]
        out.append({"name": c.name, "label": label(c.name, locale), "kind": c.kind,
                    "required": c.required, "description": gettext(locale, c.description),
                    "hint": _hint(c, locale), "options": options, "family": c.family})
    return out


def _groups(fields: list[dict], locale: str) -> list:
    return [(gettext_in(locale, THE_CAMPAIGN), [f for f in fields if f["family"] is None])] + [
        (family_label(fam, locale), [f for f in fields if f["family"] == fam])
        for fam in FAMILIES]


def _what_ifs(locale: str) -> dict:
    """How each what-if changes the form: the factor's input set to, capped at or raised
    to a value (the budget ratio acts on the committed budget)."""
    out = {}
    for f in FACTORS:
        advice = ADVICE[f.name]
        if advice.target is not None and advice.target_label is not None:
            out[f.name] = {"kind": advice.target.kind, "value": advice.target.value,
                           "label": advice_text(advice.target_label, locale),
                           "columns": list(f.columns)}
    return out


@cache
def page(locale: str) -> tuple[list, dict]:
    """The form's groups of fields and the page's data, in ``locale`` (made once each)."""
    fields = _fields(locale)
    data = {"fields": [{"name": f["name"], "kind": f["kind"]} for f in fields],
            "what_ifs": _what_ifs(locale), "top_k": len(FACTORS),
            "labels": {n: label(n, locale)
                       for n in [*SCHEMA.names, *(f.name for f in FACTORS)]},
            "factor_families": {f.name: family_label(f.family, locale) for f in FACTORS},
            "value_labels": {v: value_label(v, locale) for c in SCHEMA.columns
                             if c.kind == "category" for v in c.categories},
            "lang": language_tag(locale)}
    return _groups(fields, locale), data


@bp.get("/")
def check_page():
    """The form, filled from the address when it carries a campaign."""
    holder = current_app.extensions["riskmodel.holder"]
    scorer = holder.scorer
    values = {name: request.args.get(name, "") for name in SCHEMA.names}
    key_required = current_app.extensions["riskmodel.settings"].scoring_requires_key
    groups, page_data = page(locale_of(request.environ))
    data = dict(page_data, bands=scorer.bands if scorer is not None else None,
                auto=bool(values.get("campaign_id")) and not key_required,
                key_required=key_required)
    return render_template("workbench/check.html", groups=groups, values=values, data=data,
                           key_required=key_required,
                           unready=None if scorer is not None else holder.unready_reason,
                           version=scorer.version if scorer is not None else None)
