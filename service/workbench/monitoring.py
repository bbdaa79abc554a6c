"""``/monitoring``: is the model still right? The result of ``GET /v1/monitoring`` (the same
computation, :class:`service.monitoring.Monitoring`) for a planner: the verdict and its
reasons in words, drift per factor, expected failures per month, realized performance
against the model card. Asking takes an API key, posted with a CSRF token as on ``/model``
(never in the address); each state monitoring cannot answer is a message that says what
to do."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from flask import current_app, render_template, request

from riskmodel import (
    N_,
    SEGMENTS_NAMED,
    RiskModelError,
    StoreUnavailable,
    label,
    value_label,
)
from service.auth import key_is_valid
from service.i18n import gettext as _
from service.i18n import locale_of
from service.workbench.blueprint import bp, csrf_ok

VERDICT_WORDS = {
    "ok": N_("OK"), "watch": N_("Watch"), "retrain recommended": N_("Retrain recommended")}
VERDICT_MEANING = {
    "ok": N_("The campaigns being scored still look like the ones the model learned from, "
             "and its risks come true as often as it says. Nothing to do."),
    "watch": N_("Something has moved, or the risks are off in a segment, but not yet enough "
                "to retrain. Look again when more campaigns and outcomes have come in."),
    "retrain recommended": N_("The model no longer fits the campaigns being scored or what "
                              "became of them. Retrain it on the recent history (riskmodel "
                              "retrain), then check the new version on the model page."),
}
SEGMENT_WORDS = {"month": N_("Month of completion")}


def _page(status: int = 200, **context):
    scorer = current_app.extensions["riskmodel.holder"].current()
    return render_template(
        "workbench/monitoring.html", active="monitoring",
        keys_configured=bool(current_app.extensions["riskmodel.api_keys"]),
        version=scorer.version if scorer is not None else None,
        since=request.form.get("since", ""), until=request.form.get("until", ""),
        VERDICT_WORDS=VERDICT_WORDS, VERDICT_MEANING=VERDICT_MEANING, **context), status


@bp.get("/monitoring")
def monitoring_page():
    return _page()


def _day(name: str) -> datetime | None:
    """The form's date (empty: open), or :class:`ValueError`."""
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    day = date.fromisoformat(raw)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@bp.post("/monitoring")
def monitoring_check():
    """Check the key and the token, then show the monitoring result of the window."""
    from riskmodel import EmptyWindow, MonitoringError, ReferenceMissing  # (pandas): first use

    if not csrf_ok():
        return _page(403, error=_("Refused: the form's security token did not match. Reload "
                                  "the page and try again."))
    keys = current_app.extensions["riskmodel.api_keys"]
    if not keys:
        return _page(403, error=_("Monitoring from the page needs RISKMODEL_API_KEYS to be set "
                                  "on the service; or use `riskmodel monitor`."))
    if not key_is_valid(request.form.get("api_key", ""), keys):
        return _page(401, error=_("Refused: monitoring needs one of the service's API keys."))
    try:
        since, until = _day("since"), _day("until")
    except ValueError:
        return _page(422, error=_("A date is not a day of the calendar: use YYYY-MM-DD, or "
                                  "leave it empty."))
    if since is not None and until is not None and until <= since:
        return _page(422, error=_("“Until” must be after “since”."))
    holder = current_app.extensions["riskmodel.holder"]
    try:
        result = current_app.extensions["riskmodel.monitoring"].result(since, until)
    except LookupError:
        return _page(503, error=_("No model is serving: %(reason)s",
                                  reason=holder.unready_reason or "–"))
    except ReferenceMissing:
        return _page(409, missing_reference=True)
    except StoreUnavailable as e:
        return _page(503, error=_("The store of predictions and outcomes cannot be read: "
                                  "%(reason)s", reason=e.reason))
    except EmptyWindow:
        return _page(409, empty_window=True, window_given=bool(since or until))
    except MonitoringError as e:
        return _page(409, error=_("Cannot monitor: %(reason)s", reason=str(e)))
    except RiskModelError as e:
        return _page(409, error=_("Cannot monitor: %(reason)s", reason=str(e)))
    return _page(200, r=present(result, locale_of(request.environ)))


# ------------------------------------------------------------------ the result for a page


def present(result: dict, locale: str) -> dict:
    """What the template shows of a monitoring ``result``: its figures with words and
    the plots' geometry in ``locale``."""
    policy = result["policy"]
    drift = result["input_drift"]
    factors = [dict(f, label=label(f["factor"], locale),
                    level=_level(f["moved"], f["psi"], policy)) for f in drift["factors"]]
    moved = {f["factor"] for f in factors if f["moved"]}
    within = [dict(f, label=label(f["factor"], locale),  # the others are said overall
                   type_label=value_label(f["campaign_type"], locale))
              for f in drift["by_campaign_type"] if f["factor"] not in moved]
    perf = result["performance"]
    segments = [dict(s, segment_label=_segment(s["segment"], locale),
                     value_label=s["value"] if s["segment"] == "month"
                     else value_label(s["value"], locale))
                for s in perf.get("segments", [])]
    months = [s for s in segments if s["segment"] == "month"]
    return {"raw": result, "verdict": result["verdict"],
            "reasons": [{"code": code["code"], "text": text,
                         "words": reason_words(code, locale, fallback=text)}
                        for code, text in zip(result["reason_codes"], result["reasons"],
                                              strict=True)],
            "factors": factors, "within": within, "psi_plot": psi_plot(factors, policy),
            "score": result["score_drift"],
            "scored_plot": bar_plot(result["score_drift"]["expected_failures_by_month"]),
            "perf": perf, "segments": segments, "months_plot": failures_plot(months),
            "judged": perf["outcomes"] >= policy["min_outcomes"]}


def _level(moved: bool, psi: float, policy: dict) -> str | None:
    if not moved:
        return None
    return "retrain" if psi >= policy["psi_retrain"] else "watch"


def _segment(segment: str, locale: str) -> str:
    from service.i18n import gettext_in

    if segment in SEGMENT_WORDS:
        return gettext_in(locale, SEGMENT_WORDS[segment])
    return label(segment, locale)


# The core gives each reason as a code with its parameters (``reason_codes``,
# riskmodel.monitoring.REASON_CODES) beside its operators' English (``reasons``); the page
# says each code in the planner's words and language from the parameters, never from the
# English. A code this page does not know is shown as the core's English.
REASON_WORDS = {
    "factor_moved": N_("“%(factor)s” has moved away from the training data (PSI %(psi)s)."),
    "factor_moved_within_campaign_type": N_(
        "“%(factor)s” has moved within %(type)s campaigns (PSI %(psi)s)."),
    "predicted_risk_moved": N_(
        "The predicted risk has moved (PSI %(psi)s): %(mean)s on average, against %(ref)s "
        "at training."),
    "miscalibrated": N_(
        "The risks do not come true: %(observed)s campaigns failed against %(expected)s "
        "expected (if the risks were right, between %(low)s and %(high)s in 95 cases of "
        "100)."),
    "roc_auc_dropped": N_(
        "The model ranks campaigns worse than when it was tested: ROC AUC %(auc)s against "
        "%(card)s on the model card's test split."),
    "ece_rose": N_(
        "The risks are less well calibrated than when the model was tested: ECE %(ece)s "
        "against %(card)s on the model card's test split."),
    "segments_miscalibrated": N_("The risks are off in some segments: %(segments)s."),
}
SEGMENT_REASON = N_("%(segment)s %(value)s: %(observed)s failed, %(expected)s expected")


def reason_words(reason: dict, locale: str, fallback: str | None = None) -> str:
    """One reason of the verdict (an item of the result's ``reason_codes``: ``code`` and
    ``params``) in the planner's words, in ``locale``; ``fallback`` (the core's English)
    for a code this page does not know."""
    from service.i18n import gettext_in
    from service.workbench.render import number_in

    code, p = reason.get("code"), reason.get("params") or {}
    if code not in REASON_WORDS:
        return fallback if fallback is not None else str(code)

    def num(x, digits: int) -> str:
        return number_in(x, digits, locale)

    if code in ("factor_moved", "factor_moved_within_campaign_type"):
        args = {"factor": label(p["factor"], locale), "psi": num(p["psi"], 2)}
        if code == "factor_moved_within_campaign_type":
            args["type"] = value_label(p["campaign_type"], locale)
    elif code == "predicted_risk_moved":
        args = {"psi": num(p["psi"], 2), "mean": _share(p["mean_risk"], locale),
                "ref": _share(p["reference_mean_risk"], locale)}
    elif code == "miscalibrated":
        low, high = p["interval"]
        args = {"observed": num(p["observed"], 0), "expected": num(p["expected"], 1),
                "low": num(low, 1), "high": num(high, 1)}
    elif code == "roc_auc_dropped":
        args = {"auc": num(p["roc_auc"], 3), "card": num(p["card_roc_auc"], 3)}
    elif code == "ece_rose":
        args = {"ece": num(p["ece"], 3), "card": num(p["card_ece"], 3)}
    else:  # segments_miscalibrated
        parts = [gettext_in(locale, SEGMENT_REASON) % {
            "segment": _segment(s["segment"], locale),
            "value": s["value"] if s["segment"] == "month" else value_label(s["value"], locale),
            "observed": num(s["observed"], 0), "expected": num(s["expected"], 1)}
            for s in p["segments"][:SEGMENTS_NAMED]]
        args = {"segments": gettext_in(locale, N_("; ")).join(parts)}
    return gettext_in(locale, REASON_WORDS[code]) % args


def _share(x, locale: str) -> str:
    from riskmodel import format_share

    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return format_share(float(x), locale)


# ------------------------------------------------------------------ plots (inline SVG)


def _scale_sqrt(top: float):
    root = math.sqrt(top)
    return lambda v: math.sqrt(max(v, 0.0)) / root


def psi_plot(factors: list[dict], policy: dict) -> dict:
    """Horizontal bars of PSI per factor on a square-root scale (small values stay
    visible beside a large one), with the watch and retrain lines."""
    top = max([f["psi"] for f in factors] + [policy["psi_retrain"] * 1.6])
    x = _scale_sqrt(top)
    left, width, row = 230, 430, 20
    ticks = [t for t in (0, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20) if t <= top]
    return {"width": left + width + 20, "height": row * len(factors) + 44, "left": left,
            "plot_width": width, "row": row,
            "bars": [{"y": 8 + i * row, "w": width * x(f["psi"]), "f": f}
                     for i, f in enumerate(factors)],
            "lines": [{"x": left + width * x(policy[k]), "kind": k}
                      for k in ("psi_watch", "psi_retrain")],
            "ticks": [{"x": left + width * x(t), "t": t} for t in ticks],
            "axis_y": 8 + row * len(factors)}


def bar_plot(months: list[dict]) -> dict | None:
    """Expected failures per month of scoring, one bar each."""
    if not months:
        return None
    top = max(m["expected_failures"] for m in months) or 1.0
    width, height, left, bottom = 480, 200, 50, 30
    step = (width - left - 10) / len(months)
    bar = min(step * 0.7, 60)
    return {"width": width, "height": height, "left": left, "base": height - bottom,
            "top": top,
            "bars": [{"x": left + i * step + (step - bar) / 2, "w": bar,
                      "h": (height - bottom - 20) * m["expected_failures"] / top,
                      "cx": left + i * step + step / 2, "m": m}
                     for i, m in enumerate(months)]}


def failures_plot(months: list[dict]) -> dict | None:
    """Per month of completion: the expected failures and the 95% interval of the observed
    count if the risks were right (a band), and the failures observed (a dot). The axis
    spans the figures (not from zero), so a band is tall enough to read."""
    if not months:
        return None
    values = [v for m in months for v in (m["interval"][0], m["interval"][1], m["observed"])]
    low, high = max(min(values), 0.0), max(values)
    pad = max((high - low) * 0.15, 1.0)
    low, high = max(low - pad, 0.0), high + pad
    width, height, left, bottom = 480, 220, 50, 30
    step = (width - left - 10) / len(months)

    def y(v: float) -> float:
        return height - bottom - (height - bottom - 10) * (v - low) / (high - low)

    return {"width": width, "height": height, "left": left, "base": height - bottom,
            "ticks": [{"y": y(v), "v": v} for v in (low, (low + high) / 2, high)],
            "top_y": y(high),
            "points": [{"cx": left + i * step + step / 2, "band_w": min(step * 0.5, 36),
                        "low": y(max(m["interval"][0], 0)), "high": y(m["interval"][1]),
                        "expected": y(m["expected"]), "observed": y(m["observed"]),
                        "outside": not m["interval"][0] <= m["observed"] <= m["interval"][1],
                        "m": m}
                       for i, m in enumerate(months)]}
