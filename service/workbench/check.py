"""``/``: check one campaign before launch. The form is built from the contract; the page's
script sends it to ``POST /v1/score`` (the API's own validation and messages) and draws the
answer. The address carries the campaign, so a check can be sent to a colleague."""

from __future__ import annotations

from flask import current_app, render_template, request

from riskmodel import ADVICE, FACTORS, FAMILIES, SCHEMA, VALUE_LABELS, family_label, label
from service.workbench.blueprint import bp


def _hint(c) -> str:
    unknown = "" if c.required else " Leave empty if unknown."
    if c.kind in ("number", "integer"):
        return f"{c.allowed()[0].upper()}{c.allowed()[1:]}.{unknown}"
    if c.kind == "string":
        return f"{c.allowed()[0].upper()}{c.allowed()[1:]}."
    return unknown.strip()


def _fields() -> list[dict]:
    """Every plan column as a form field, grouped by family in contract order."""
    out = []
    for c in SCHEMA.columns:
        options = []
        if c.kind == "category":
            options = [(v, VALUE_LABELS.get(v, v)) for v in c.categories]
        elif c.kind == "boolean":
            options = [("true", "Yes"), ("false", "No")]
        out.append({"name": c.name, "label": label(c.name), "kind": c.kind,
                    "required": c.required, "description": c.description,
                    "hint": _hint(c), "options": options, "family": c.family})
    return out


FIELDS = _fields()
GROUPS = [("The campaign", [f for f in FIELDS if f["family"] is None])] + [
    (family_label(fam), [f for f in FIELDS if f["family"] == fam]) for fam in FAMILIES]


def _what_ifs() -> dict:
    """How each what-if changes the form: the factor's input set to, capped at or raised
    to a value (the budget ratio acts on the committed budget)."""
    out = {}
    for f in FACTORS:
        advice = ADVICE[f.name]
        if advice.target is not None:
            out[f.name] = {"kind": advice.target.kind, "value": advice.target.value,
                           "label": advice.target_label, "columns": list(f.columns)}
    return out


PAGE_DATA = {"fields": [{"name": f["name"], "kind": f["kind"]} for f in FIELDS],
             "what_ifs": _what_ifs(), "top_k": len(FACTORS),
             "labels": {n: label(n) for n in [*SCHEMA.names, *(f.name for f in FACTORS)]},
             "factor_families": {f.name: family_label(f.family) for f in FACTORS},
             "value_labels": VALUE_LABELS}


@bp.get("/")
def check_page():
    """The form, filled from the address when it carries a campaign."""
    holder = current_app.extensions["riskmodel.holder"]
    scorer = holder.scorer
    values = {f["name"]: request.args.get(f["name"], "") for f in FIELDS}
    key_required = current_app.extensions["riskmodel.settings"].scoring_requires_key
    data = dict(PAGE_DATA, bands=scorer.bands if scorer is not None else None,
                auto=bool(values.get("campaign_id")) and not key_required,
                key_required=key_required)
    return render_template("workbench/check.html", groups=GROUPS, values=values, data=data,
                           key_required=key_required,
                           unready=None if scorer is not None else holder.unready_reason,
                           version=scorer.version if scorer is not None else None)
