"""Retraining: learn from recorded outcomes, promote a challenger only when it is better.

The gate (documented in docs/retraining.md): champion and challenger are scored on the same
holdout — the most recent recorded outcomes, never trained on — and the challenger is
promoted only if

- at least ``min_new`` outcomes were recorded,
- its ROC AUC is not lower than the champion's by more than ``auc_margin``, and
- its Brier score is not worse than the champion's (by more than ``brier_tolerance``).

A refused challenger keeps its version directory for inspection; CURRENT never changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from riskmodel import DataError, Registry, Store, load_model, validate_campaigns
from training.train import load_history, save_version, train


@dataclass(frozen=True)
class GatePolicy:
    min_new: int = 200
    auc_margin: float = 0.01
    brier_tolerance: float = 0.0
    holdout_share: float = 0.3


def holdout_metrics(scorer_or_model, frame: pd.DataFrame) -> dict:
    """AUC, Brier and log loss of a model on a frame with outcomes."""
    v = validate_campaigns(frame, outcomes=True)
    v.raise_for_errors()
    y = v.batch["failed"].astype(int)
    model = getattr(scorer_or_model, "model", scorer_or_model)
    p = np.clip(model.predict_proba(v.batch)[:, 1], 1e-15, 1 - 1e-15)
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return {"n": int(len(y)), "roc_auc": auc, "brier": float(brier_score_loss(y, p)),
            "log_loss": float(log_loss(y, p, labels=[0, 1]))}


def decide(champion: dict, challenger: dict, n_new: int, policy: GatePolicy) -> tuple[bool, list]:
    """The gate: (passed, reasons)."""
    reasons = []
    if n_new < policy.min_new:
        reasons.append(f"only {n_new} new outcomes; at least {policy.min_new} are needed")
    if not challenger["roc_auc"] >= champion["roc_auc"] - policy.auc_margin:
        reasons.append(f"ROC AUC {challenger['roc_auc']:.4f} is lower than the champion's "
                       f"{champion['roc_auc']:.4f} by more than {policy.auc_margin}")
    if not challenger["brier"] <= champion["brier"] + policy.brier_tolerance:
        reasons.append(f"Brier score {challenger['brier']:.4f} is worse than the champion's "
                       f"{champion['brier']:.4f}")
    return not reasons, reasons


def split_recent(new: pd.DataFrame, share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(older new outcomes, holdout of the most recent share)."""
    ordered = new.assign(_d=pd.to_datetime(new["completed_on"], errors="coerce")) \
        .sort_values("_d", kind="stable", na_position="first").drop(columns="_d")
    k = max(1, int(round(len(ordered) * share)))
    return ordered.iloc[:-k], ordered.iloc[-k:]


def challenge(train_frame: pd.DataFrame, holdout: pd.DataFrame, root: str | Path, *,
              n_new: int, policy: GatePolicy = GatePolicy(), by: str = "riskmodel retrain",
              code_version: str = "unknown", progress: bool | None = None,
              signing_key: bytes | None = None, verify_key: bytes | None = None) -> dict:
    """Train a challenger on ``train_frame``, gate it against the serving champion on
    ``holdout``, write it with its report, promote it if it passes. Return the report."""
    registry = Registry(root, signing_key=signing_key, verify_key=verify_key)
    champion = load_model(root=root, verify_key=verify_key)
    # a random split inside: the most recent outcomes are the gate's holdout, and the new
    # outcomes must reach the challenger's training split rather than all land in its test
    result = train(train_frame, out=root, write=False, code_version=code_version,
                   progress=progress, split_by_date=False)
    champ = holdout_metrics(champion, holdout)
    chall = holdout_metrics(result.model, holdout)
    passed, reasons = decide(champ, chall, n_new, policy)
    snapshot = hashlib.sha256(pd.concat([train_frame, holdout]).to_csv(index=False)
                              .encode()).hexdigest()
    report = {"decision": "promoted" if passed else "refused", "reasons": reasons,
              "policy": asdict(policy), "champion": {"version": champion.version, **champ},
              "challenger": chall, "new_outcomes": n_new,
              "training_rows": int(len(train_frame)), "holdout_rows": int(len(holdout)),
              "data_snapshot_sha256": snapshot}
    version = save_version(result, root, promote=False, report=report,
                           signing_key=signing_key)
    report["version"] = version
    if passed:
        registry.promote(version, by=by, reason=f"gate passed against {champion.version}: "
                                                f"AUC {chall['roc_auc']:.4f} vs "
                                                f"{champ['roc_auc']:.4f}, Brier "
                                                f"{chall['brier']:.4f} vs {champ['brier']:.4f}")
    return report


def retrain(store: Store, root: str | Path, *, base: str | Path | None = None,
            policy: GatePolicy = GatePolicy(), **kw) -> dict:
    """Base history plus the recorded outcomes joined to their logged plans -> challenge."""
    new = store.training_frame()
    if len(new) < policy.min_new:
        raise DataError(f"only {len(new)} outcomes are recorded; the gate needs at least "
                        f"{policy.min_new} before a challenger is trained")
    older, holdout = split_recent(new, policy.holdout_share)
    frames = [older]
    if base is not None:
        history = load_history(base)
        frames.insert(0, history[[c for c in new.columns if c in history.columns]])
    return challenge(pd.concat(frames, ignore_index=True), holdout, root, n_new=len(new),
                     policy=policy, **kw)
