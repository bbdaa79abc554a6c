"""Is the model still right? Drift, realized performance and a verdict, from the store.

:func:`monitor` reads the campaigns scored in a window from the prediction log and the
outcomes completed in it, scores both with the serving model, compares them with the
reference its version kept at training (:mod:`riskmodel.drift`) and with its model card,
and returns plain JSON-ready data ending in a verdict — ``ok``, ``watch`` or
``retrain recommended`` — with its reasons, in English (``reasons``) and as codes with
their parameters (``reason_codes``, :data:`REASON_CODES`). The command line, the service
and the report all show this one result (docs/monitoring.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from riskmodel.campaigns import CampaignBatch
from riskmodel.contract import SCHEMA
from riskmodel.drift import (
    REFERENCE_FILE,
    REFERENCE_FORMAT,
    SEGMENTS,
    bin_counts,
    chi_square,
    holm,
    performance,
    psi,
)
from riskmodel.errors import ArtifactError, RiskModelError
from riskmodel.features import FACTORS, Factor, factor_values
from riskmodel.registry import Registry
from riskmodel.scoring import Scorer
from riskmodel.store import Store
from riskmodel.validation import validate_campaigns
from riskmodel.verdicts import (
    ECE_ROSE,
    FACTOR_MOVED,
    FACTOR_MOVED_WITHIN_CAMPAIGN_TYPE,
    MISCALIBRATED,
    OK,
    PREDICTED_RISK_MOVED,
    REASON_CODES,  # noqa: F401  public here as before riskmodel.verdicts held them
    REASON_LEVELS,  # noqa: F401
    RETRAIN,
    ROC_AUC_DROPPED,
    SEGMENTS_MISCALIBRATED,
    SEGMENTS_NAMED,
    VERDICTS,  # noqa: F401
    WATCH,
)


@dataclass(frozen=True)
class Policy:
    """The thresholds of the verdict (docs/monitoring.md says why these)."""

    alpha: float = 0.01  # family-wise level of each family of tests (Holm)
    psi_watch: float = 0.10  # a significant move this large: watch
    psi_retrain: float = 0.25  # a significant move this large, overall: retrain
    # observed failures significantly further than this share from the expected ones:
    # retrain (a smaller gap is tolerated, however many outcomes show it)
    calibration_gap: float = 0.10
    auc_drop: float = 0.05  # realized ROC AUC this far below the card's: retrain
    ece_rise: float = 0.05  # realized ECE this far above the card's: watch
    min_outcomes: int = 100  # fewer outcomes: performance shown, not judged
    min_segment: int = 30  # segments smaller than this are not tested


class MonitoringError(RiskModelError, ValueError):
    """Monitoring cannot run on what it was given (an empty window, no reference)."""


class EmptyWindow(MonitoringError):
    """No campaign was scored in the window: nothing to monitor yet (or widen it)."""


class ReferenceMissing(MonitoringError, ArtifactError):
    """A model version trained before reference statistics were kept."""


def load_reference(root: str | Path, version: str) -> dict:
    """The reference statistics of a verified version (``reference.json``, listed in its
    manifest with its checksum); :class:`ReferenceMissing` when it has none."""
    registry = Registry(root)
    manifest = registry.verify(version)
    if REFERENCE_FILE not in manifest.get("files", {}):
        raise ReferenceMissing(
            f"model version {version!r} has no reference statistics ({REFERENCE_FILE}): it "
            f"was trained before monitoring kept them. Retrain it (riskmodel train or "
            f"retrain) to monitor it")
    data = json.loads((registry.models / version / REFERENCE_FILE).read_text())
    if data.get("format") != REFERENCE_FORMAT:
        raise ReferenceMissing(f"the reference statistics of {version!r} are in format "
                               f"{data.get('format')!r}; this code reads {REFERENCE_FORMAT}")
    return data


def monitor(store: Store, scorer: Scorer, reference: Mapping, *,
            since: datetime | None = None, until: datetime | None = None,
            policy: Policy = Policy()) -> dict:
    """Monitor the serving model over ``[since, until)`` (either open) from the store: the
    campaigns scored in the window (:meth:`Store.scored_plans`), the outcomes completed in
    it joined to the plans they train on (:meth:`Store.outcome_frame`, the rule of
    :meth:`Store.training_frame`), and the outcomes
    that never matched a logged prediction. See :func:`assess`.

    Raises :class:`EmptyWindow` (a :class:`MonitoringError`) when no campaign was scored
    in the window. Outcomes are optional: without them realized performance says so and
    the verdict rests on drift.
    """
    plans = store.scored_plans(since, until)
    if plans.empty:
        raise EmptyWindow(f"no campaign was scored {_window_words(since, until)}: "
                          f"nothing to monitor; widen --since/--until")
    outcomes = store.outcome_frame(None if since is None else since.date(),
                                   None if until is None else until.date())
    result = assess(scorer, reference, plans, outcomes,
                    policy=policy, unmatched=store.unmatched_outcomes(),
                    window_words=_window_words(since, until))
    result["window"].update(since=_iso(since), until=_iso(until))
    return result


def assess(scorer: Scorer, reference: Mapping, plans: pd.DataFrame, outcomes: pd.DataFrame,
           *, policy: Policy = Policy(), unmatched: list[str] | None = None,
           window_words: str = "in the window") -> dict:
    """The monitoring result for campaigns scored (``plans``: contract columns, one row per
    campaign, with ``scored_at`` and the ``failure_risk`` logged) and outcomes
    (``outcomes``: contract columns with ``failed`` and ``completed_on``), against a model
    version's ``reference``: input drift, score drift, realized performance and the
    verdict with its reasons. Plain JSON-ready data."""
    batch, invalid = _valid(plans)
    if not batch.n:
        raise MonitoringError(f"none of the {len(plans)} campaigns scored {window_words} "
                              f"is a valid plan now")
    risk = scorer.compute(batch).risk
    drift = input_drift(batch, reference, policy)
    score = score_drift(risk, plans.loc[~invalid], reference, policy)
    realized = realized_performance(scorer, reference, outcomes, policy,
                                    unmatched or [], window_words)
    verdict, reasons = decide_reasons(drift, score, realized, policy)
    return {"model_version": scorer.version,
            "window": {"since": None, "until": None,
                       "campaigns": int(batch.n), "invalid_plans": int(invalid.sum()),
                       "first_scored": _iso(plans["scored_at"].min()),
                       "last_scored": _iso(plans["scored_at"].max())},
            "reference": {"campaigns": reference["n"],
                          "failure_rate": reference["failure_rate"]["overall"]["rate"]},
            "input_drift": drift, "score_drift": score, "performance": realized,
            "verdict": verdict, "reasons": [r.text for r in reasons],
            "reason_codes": [r.as_dict() for r in reasons],
            "policy": {k: getattr(policy, k) for k in policy.__dataclass_fields__},
            "computed_at": _iso(datetime.now(UTC))}


# ---------------------------------------------------------------------------- pieces


def input_drift(batch: CampaignBatch, reference: Mapping, policy: Policy) -> dict:
    """Per factor, overall and per campaign type: PSI, chi-square p-value, Holm-adjusted
    over every test of this family, and whether it moved."""
    tests: list[tuple] = []  # (factor, segment or None, ref counts, window counts)
    types = np.asarray(batch["campaign_type"])
    type_names = batch.schema["campaign_type"].categories
    by_name = {f.name: f for f in _factors(reference)}
    for name, spec in reference["factors"].items():
        x = factor_values(batch, by_name[name])
        tests.append((name, None, spec["counts"], bin_counts(spec, x)))
        for code, seg in enumerate(type_names):
            ref = spec["by_campaign_type"].get(seg)
            mask = types == code
            if ref is None or mask.sum() < policy.min_segment:
                continue
            tests.append((name, seg, ref, bin_counts(spec, x[mask])))
    results = []
    for name, segment, ref, cur in tests:
        stat, dof, p = chi_square(np.asarray(ref), cur)
        results.append({"factor": name, "campaign_type": segment, "n": int(np.sum(cur)),
                        "psi": psi(np.asarray(ref), cur), "chi2": stat, "dof": dof,
                        "p_value": p})
    for r, adj in zip(results, holm([r["p_value"] for r in results]), strict=True):
        r["p_adjusted"] = adj
        r["moved"] = adj < policy.alpha and r["psi"] >= policy.psi_watch
    overall = [r for r in results if r["campaign_type"] is None]
    for r in overall:
        spec = reference["factors"][r["factor"]]
        cur = bin_counts(spec, factor_values(batch, by_name[r["factor"]]))
        r["bins"] = [{"bin": label, "reference": _share(spec["counts"], i),
                      "window": _share(cur, i)} for i, label in enumerate(spec["labels"])]
    return {"factors": sorted(overall, key=lambda r: -r["psi"]),
            "by_campaign_type": [r for r in results
                                 if r["campaign_type"] is not None and r["moved"]],
            "tests": len(results)}


def score_drift(risk: np.ndarray, logged: pd.DataFrame, reference: Mapping,
                policy: Policy) -> dict:
    """The predicted risk's distribution against the reference's; the expected failures
    (the sum of risks as logged) per month of last scoring."""
    spec = reference["risk"]
    cur = bin_counts(spec, risk)
    stat, dof, p = chi_square(np.asarray(spec["counts"]), cur)
    value = psi(np.asarray(spec["counts"]), cur)
    month = logged["scored_at"].dt.strftime("%Y-%m")
    per_month = logged.groupby(month.to_numpy())["failure_risk"].agg(["size", "sum", "mean"])
    return {"psi": value, "chi2": stat, "dof": dof, "p_value": p,
            "moved": p < policy.alpha and value >= policy.psi_watch,
            "mean_risk": float(np.mean(risk)), "reference_mean_risk": spec.get("mean"),
            "bins": [{"bin": label, "reference": _share(spec["counts"], i),
                      "window": _share(cur, i)} for i, label in enumerate(spec["labels"])],
            "expected_failures_by_month": [
                {"month": m, "campaigns": int(row["size"]), "expected_failures": float(row["sum"]),
                 "mean_risk": float(row["mean"])} for m, row in per_month.iterrows()]}


def realized_performance(scorer: Scorer, reference: Mapping, outcomes: pd.DataFrame,
                         policy: Policy, unmatched: list[str],
                         window_words: str = "in the window") -> dict:
    """Outcomes, each with the plan it trains on, scored by the serving model: expected
    against observed failures, ROC AUC, Brier, ECE and reliability, overall, per month of
    completion and per segment, against the model card's test figures."""
    card = {k: scorer.manifest.get("metrics", {}).get(k)
            for k in ("roc_auc", "brier", "ece", "failure_rate")}
    out: dict = {"outcomes": int(len(outcomes)), "card": card,
                 "unmatched_outcomes": {"count": len(unmatched),
                                        "campaign_ids": unmatched[:50]}}
    if outcomes.empty:
        out["note"] = (f"no outcomes completed {window_words} yet: realized performance "
                       f"is judged once they arrive")
        return out
    v = validate_campaigns(outcomes[list(SCHEMA.names)])
    batch = v.batch.take(v.valid)
    out["outcomes"] = int(batch.n)
    y = outcomes.loc[v.valid, "failed"].astype(bool).to_numpy()
    done = pd.to_datetime(outcomes.loc[v.valid, "completed_on"], format="ISO8601")
    months = done.dt.strftime("%Y-%m").fillna("(no date)").to_numpy()
    p = scorer.compute(batch).risk
    out["overall"] = performance(y, p, tolerance=policy.calibration_gap)
    segments = []
    for month in sorted(set(months)):
        m = months == month
        segments.append({"segment": "month", "value": month, **_brief(performance(y[m], p[m]))})
    for seg in SEGMENTS:
        codes = np.asarray(batch[seg])
        for code, name in enumerate(batch.schema[seg].categories):
            m = codes == code
            if m.sum() >= policy.min_segment:
                segments.append({"segment": seg, "value": name,
                                 **_brief(performance(y[m], p[m]))})
    for s, adj in zip(segments, holm([s["p_value"] for s in segments]), strict=True):
        s["p_adjusted"] = adj
        s["miscalibrated"] = adj < policy.alpha
    out["segments"] = segments
    out["reference_failure_rate"] = reference["failure_rate"]
    return out




@dataclass(frozen=True)
class Reason:
    """One reason of the verdict: its code (:data:`REASON_CODES`), the verdict it calls
    for on its own (``retrain`` or ``watch``), its parameters (plain JSON-ready values)
    and its English for operators, made from them (:func:`reason_text`)."""

    code: str
    level: str
    params: dict

    @property
    def text(self) -> str:
        return reason_text(self.code, self.params)

    def as_dict(self) -> dict:
        return {"code": self.code, "level": self.level, "params": self.params}


def reason_text(code: str, params: Mapping) -> str:
    """The operators' English of a reason (the result's ``reasons``)."""
    p = params
    if code == FACTOR_MOVED:
        return f"{p['factor']} moved (PSI {p['psi']:.2f}, adjusted p {p['p_adjusted']:.1g})"
    if code == FACTOR_MOVED_WITHIN_CAMPAIGN_TYPE:
        return f"{p['factor']} moved within {p['campaign_type']} (PSI {p['psi']:.2f})"
    if code == PREDICTED_RISK_MOVED:
        return (f"predicted risk moved (PSI {p['psi']:.2f}, mean {p['mean_risk']:.3f} "
                f"against {p['reference_mean_risk']:.3f} at training)")
    if code == MISCALIBRATED:
        return (f"miscalibrated: {p['observed']} failures observed against "
                f"{p['expected']:.1f} expected (95% interval "
                f"{p['interval'][0]:.1f}–{p['interval'][1]:.1f})")
    if code == ROC_AUC_DROPPED:
        return (f"ROC AUC {p['roc_auc']:.3f} against {p['card_roc_auc']:.3f} on the model "
                f"card's test split")
    if code == ECE_ROSE:
        return f"ECE {p['ece']:.3f} against {p['card_ece']:.3f} on the model card's test split"
    if code == SEGMENTS_MISCALIBRATED:
        return "miscalibrated segments: " + ", ".join(
            f"{s['segment']} {s['value']} ({s['observed']} failed, "
            f"{s['expected']:.1f} expected)" for s in p["segments"][:SEGMENTS_NAMED])
    raise ValueError(f"unknown reason code {code!r}")


def decide(drift: Mapping, score: Mapping, realized: Mapping,
           policy: Policy) -> tuple[str, list[str]]:
    """The verdict and its reasons in English, most serious first (:func:`decide_reasons`
    gives them as codes)."""
    verdict, reasons = decide_reasons(drift, score, realized, policy)
    return verdict, [r.text for r in reasons]


def decide_reasons(drift: Mapping, score: Mapping, realized: Mapping,
                   policy: Policy) -> tuple[str, list[Reason]]:
    """The verdict and its reasons, most serious first, each a :class:`Reason`."""
    retrain: list[Reason] = []
    watch: list[Reason] = []

    def add(code: str, retraining: bool, **params) -> None:
        reason = Reason(code, "retrain" if retraining else "watch", params)
        (retrain if retraining else watch).append(reason)

    for r in drift["factors"]:
        if not r["moved"]:
            continue
        big = r["psi"] >= policy.psi_retrain
        add(FACTOR_MOVED, big, factor=r["factor"], psi=r["psi"], p_adjusted=r["p_adjusted"],
            psi_threshold=policy.psi_retrain if big else policy.psi_watch, alpha=policy.alpha)
    for r in drift["by_campaign_type"]:
        top = next((t for t in drift["factors"] if t["factor"] == r["factor"]), None)
        if top is not None and top["moved"]:
            continue  # said overall already
        add(FACTOR_MOVED_WITHIN_CAMPAIGN_TYPE, False, factor=r["factor"],
            campaign_type=r["campaign_type"], psi=r["psi"], p_adjusted=r.get("p_adjusted"),
            psi_threshold=policy.psi_watch, alpha=policy.alpha)
    if score["moved"]:
        big = score["psi"] >= policy.psi_retrain
        add(PREDICTED_RISK_MOVED, big, psi=score["psi"], p_value=score.get("p_value"),
            mean_risk=score["mean_risk"], reference_mean_risk=score["reference_mean_risk"],
            psi_threshold=policy.psi_retrain if big else policy.psi_watch, alpha=policy.alpha)
    overall = realized.get("overall")
    if overall is not None and realized["outcomes"] >= policy.min_outcomes:
        if overall["p_beyond_tolerance"] < policy.alpha:
            add(MISCALIBRATED, True, observed=overall["observed"],
                expected=overall["expected"], interval=list(overall["interval"]),
                p_beyond_tolerance=overall["p_beyond_tolerance"],
                tolerance=policy.calibration_gap, alpha=policy.alpha)
        card = realized["card"]
        auc, se = overall["roc_auc"], overall["roc_auc_se"]
        if auc is not None and card.get("roc_auc") is not None:
            drop = card["roc_auc"] - auc
            if drop >= policy.auc_drop and drop > 2 * se:
                add(ROC_AUC_DROPPED, True, roc_auc=auc, card_roc_auc=card["roc_auc"],
                    roc_auc_se=se, threshold=policy.auc_drop)
        if overall["ece"] is not None and card.get("ece") is not None and \
                overall["ece"] >= card["ece"] + policy.ece_rise:
            add(ECE_ROSE, False, ece=overall["ece"], card_ece=card["ece"],
                threshold=policy.ece_rise)
        bad = [s for s in realized["segments"] if s["miscalibrated"]]
        if bad:
            add(SEGMENTS_MISCALIBRATED, False, alpha=policy.alpha, segments=[
                {"segment": s["segment"], "value": s["value"], "observed": s["observed"],
                 "expected": s["expected"], "p_adjusted": s.get("p_adjusted")} for s in bad])
    if retrain:
        return RETRAIN, retrain + watch
    if watch:
        return WATCH, watch
    return OK, []


# ---------------------------------------------------------------------------- helpers


def _factors(reference: Mapping) -> list[Factor]:
    known = {f.name: f for f in FACTORS}
    missing = [n for n in reference["factors"] if n not in known]
    if missing:
        raise MonitoringError(f"the reference names factors this code does not know: "
                              f"{', '.join(missing)}")
    return [known[n] for n in reference["factors"]]


def _valid(plans: pd.DataFrame) -> tuple[CampaignBatch, np.ndarray]:
    v = validate_campaigns(plans[list(SCHEMA.names)])
    return v.batch.take(v.valid), ~v.valid


def _brief(perf: Mapping) -> dict:
    return {k: perf[k] for k in ("n", "expected", "observed", "interval", "ratio", "p_value",
                                 "roc_auc", "brier", "ece")}


def _share(counts, i: int) -> float:
    total = float(np.sum(counts))
    return float(counts[i]) / total if total else 0.0


def _iso(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    return value.isoformat(timespec="seconds")  # a pd.Timestamp's too


def _window_words(since: datetime | None, until: datetime | None) -> str:
    if since is None and until is None:
        return "at all"
    if since is None:
        return f"before {_iso(until)}"
    if until is None:
        return f"since {_iso(since)}"
    return f"from {_iso(since)} to {_iso(until)}"
