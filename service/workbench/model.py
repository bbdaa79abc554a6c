"""``/model``: the model in service — its test metrics against the Bayes limit, the model
card's plots, the risk bands, every version and how it came to serve. Promoting and rolling
back take an API key (as ``POST /v1/outcomes`` does) and a CSRF token."""

from __future__ import annotations

import re

from flask import current_app, redirect, render_template, request, send_file, url_for

from riskmodel import N_, Registry, RiskModelError, band_rule
from service.auth import key_is_valid
from service.i18n import gettext as _
from service.i18n import locale_of
from service.workbench.blueprint import bp, csrf_ok, lang_args, page_error

# metric, its Bayes limit, what it says, whether lower is better
METRICS = (
    ("roc_auc", "bayes_roc_auc", N_("ROC AUC: how well risk ranks failures above successes"),
     False),
    ("brier", "bayes_brier", N_("Brier score: mean squared error of the risk"), True),
    ("log_loss", "bayes_log_loss", N_("Log loss"), True),
    ("pr_auc", None, N_("PR AUC: precision against recall on failures"), False),
    ("ece", None, N_("Expected calibration error: risk against the observed rate"), True),
    ("failure_rate", None, N_("Failure rate of the test campaigns"), None),
    ("n", None, N_("Test campaigns"), None),
)
PLOTS = {"calibration.png": N_("Calibration: predicted risk against the observed failure rate"),
         "roc.png": N_("ROC curve on the test campaigns"),
         "factors.png": N_("Factor shapes: each factor's contribution across its values")}
MESSAGES = {"promoted": N_("is now serving."), "rolled-back": N_("is serving again (rolled back).")}
_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def _registry() -> Registry:
    return Registry(current_app.extensions["riskmodel.settings"].artifacts,
                    verify_key=current_app.extensions["riskmodel.verify_key"])


def _versions(reg: Registry, current: str | None) -> list[dict]:
    out: list[dict[str, object]] = []
    for v in reversed(reg.versions()):
        try:
            m = reg.manifest(v)
        except RiskModelError as e:
            out.append({"version": v, "error": str(e)})
            continue
        out.append({"version": v, "created_at": m.get("created_at", ""),
                    "family": m.get("model", {}).get("family", ""),
                    "roc_auc": m.get("metrics", {}).get("roc_auc"),
                    "brier": m.get("metrics", {}).get("brier"),
                    "gate": m.get("gate", {}).get("decision", ""),
                    "serving": v == current})
    return out


@bp.get("/model")
def model_page():
    holder = current_app.extensions["riskmodel.holder"]
    scorer = holder.current()
    reg = _registry()
    current = reg.current_version()
    manifest = scorer.manifest if scorer is not None else {}
    metrics = manifest.get("metrics", {})
    rows = [{"name": name, "value": metrics.get(name), "bayes": metrics.get(bayes),
             "what": what, "lower_better": lower}
            for name, bayes, what, lower in METRICS if name in metrics]
    files = manifest.get("files", {})
    plots = [(name, caption) for name, caption in PLOTS.items() if name in files]
    done = request.args.get("done")
    message = None
    if done in MESSAGES and _VERSION.match(request.args.get("v", "")):
        message = f"{request.args['v']} {_(MESSAGES[done])}"
    return render_template(
        "workbench/model.html", active="model", scorer=scorer, manifest=manifest,
        metrics=rows, plots=plots, versions=_versions(reg, current),
        history=list(reversed(reg.history()))[:20], current=current, message=message,
        keys_configured=bool(current_app.extensions["riskmodel.api_keys"]),
        unready=holder.unready_reason if scorer is None else None,
        version=scorer.version if scorer is not None else None,
        band_rule=band_rule((manifest.get("bands") or {}).get("rule") or "",
                            locale_of(request.environ)))


@bp.get("/model/<version>/<name>")
def model_plot(version: str, name: str):
    """A plot of the model card, from the version's own folder (only its listed PNGs)."""
    reg = _registry()
    if name not in PLOTS or version not in reg.versions():
        return page_error(404, _("No such plot"), _("That version has no such plot."))
    path = reg.models / version / name
    if name not in reg.manifest(version).get("files", {}) or path.is_symlink():
        return page_error(404, _("No such plot"), _("That version has no such plot."))
    return send_file(path.resolve(), mimetype="image/png", max_age=3600)


def _authorised():
    """The form's token and API key, or the page that says what is wrong."""
    back = url_for("workbench.model_page", **lang_args())
    if not csrf_ok():
        return page_error(403, _("The form has expired"),
                          _("Refused: the form's security token did not match. Reload the "
                            "page and try again."), back)
    keys = current_app.extensions["riskmodel.api_keys"]
    if not keys:
        return page_error(403, _("No API keys are configured"),
                          _("Promotion from the page needs RISKMODEL_API_KEYS to be set on the "
                            "service; or use `riskmodel models promote`."), back)
    if not key_is_valid(request.form.get("api_key", ""), keys):
        return page_error(401, _("The API key is not valid"),
                          _("Refused: promoting or rolling back needs one of the service's API "
                            "keys."), back)
    return None


@bp.post("/model/promote")
def model_promote():
    refused = _authorised()
    if refused is not None:
        return refused
    version = request.form.get("version", "")
    reason = request.form.get("reason", "").strip() or "promoted from the workbench"
    try:
        event = _registry().promote(version, by="workbench", reason=reason[:500])
    except RiskModelError as e:
        return page_error(422, _("Not promoted"), str(e),
                          url_for("workbench.model_page", **lang_args()))
    current_app.extensions["riskmodel.holder"].check(force=True)
    return redirect(url_for("workbench.model_page", done="promoted", v=event["version"],
                            **lang_args()), 303)


@bp.post("/model/rollback")
def model_rollback():
    refused = _authorised()
    if refused is not None:
        return refused
    try:
        event = _registry().rollback(by="workbench")
    except RiskModelError as e:
        return page_error(422, _("Not rolled back"), str(e),
                          url_for("workbench.model_page", **lang_args()))
    current_app.extensions["riskmodel.holder"].check(force=True)
    return redirect(url_for("workbench.model_page", done="rolled-back", v=event["version"],
                            **lang_args()), 303)
