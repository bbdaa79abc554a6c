"""Train, choose, calibrate, evaluate and write a model version from a history file."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from riskmodel import (
    BAND_RULE,
    DEFAULT_INTERACTIONS,
    REFERENCE_FILE,
    AdditiveRiskModel,
    BoundedLogisticRegression,
    DataError,
    Registry,
    SchemaError,
    read_table,
    reference_statistics,
    validate_campaigns,
)
from training.evaluation import evaluate

MIN_ROWS = 200
MIN_PER_CLASS = 20
TRUTH = "true_failure_probability"

# The candidate model families, all exactly explainable (see docs/model.md).
CANDIDATES = {
    "linear_logistic": dict(n_knots=1, interactions=()),
    "additive_spline": dict(n_knots=8, interactions=()),
    "additive_spline_interactions": dict(n_knots=8, interactions=DEFAULT_INTERACTIONS),
}


@dataclass
class TrainResult:
    version: str | None
    metrics: dict
    chosen: str
    validation_log_loss: dict
    n_rows: int
    n_dropped: int
    dropped_reasons: dict
    ignored_columns: list
    split: str
    model: AdditiveRiskModel
    notices: list = field(default_factory=list)
    manifest: dict = field(default_factory=dict)
    card_data: tuple = ()
    reference: dict = field(default_factory=dict)  # what monitoring compares with


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def load_history(path: str | Path) -> pd.DataFrame:
    """Read a history file; an empty or unreadable file is a :class:`DataError`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty: expected a header row and campaigns")
    try:
        df = read_table(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: expected a header row and campaigns") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as e:
        raise DataError(f"{path} could not be read as a table: {e}") from None
    if df.empty:
        raise DataError(f"{path} has a header but no campaigns")
    return df


def split_rows(dates: np.ndarray | None, y: np.ndarray, seed: int):
    """Indices of train / validation / test: by completion date when every row has one
    (the test is the most recent 20%), otherwise stratified at random."""
    n = len(y)
    idx = np.arange(n)
    if dates is not None:
        order = np.argsort(pd.to_datetime(pd.Series(dates)).to_numpy(), kind="stable")
        a, b = int(n * 0.6), int(n * 0.8)
        return order[:a], order[a:b], order[b:], "by completed_on (test = most recent 20%)"
    rest, test = train_test_split(idx, test_size=0.2, stratify=y, random_state=seed)
    train, val = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=seed)
    return train, val, test, "stratified at random (no completed_on)"


# *high* starts at this quantile of validation risk (riskmodel.BAND_RULE says so in words;
# tests/test_training_train.py holds the two together)
HIGH_QUANTILE = 0.8


def choose_bands(p_val: np.ndarray, y_val: np.ndarray) -> tuple[float, float]:
    """Risk band cut-offs from validation data, rounded to 0.01.

    Rule (:data:`riskmodel.BAND_RULE`, recorded in the manifest): *medium* starts at the
    validation failure rate (a campaign riskier than the average one); *high* starts at
    the :data:`HIGH_QUANTILE` of validation risk (the riskiest fifth), and at least 0.01
    above the medium cut-off.
    """
    base = float(np.mean(y_val))
    medium = round(base, 2)
    high = max(round(float(np.quantile(p_val, HIGH_QUANTILE)), 2), medium + 0.01)
    return medium, round(min(high, 0.99), 2)


def _check_classes(y: np.ndarray, where: str) -> None:
    n_fail = int(y.sum())
    n_ok = len(y) - n_fail
    if n_fail == 0 or n_ok == 0:
        only = "failed" if n_ok == 0 else "succeeded"
        raise DataError(f"{where}: every campaign {only}; a model needs both failed and "
                        "successful campaigns")
    if min(n_fail, n_ok) < MIN_PER_CLASS:
        raise DataError(f"{where}: {n_fail} failed and {n_ok} successful campaigns; at least "
                        f"{MIN_PER_CLASS} of each are needed")


def train(data: str | Path | pd.DataFrame, *, out: str | Path = "artifacts", seed: int = 0,
          drop_invalid: bool = False, promote: bool | None = None,
          candidates: dict | None = None, code_version: str = "unknown",
          progress: bool | None = None, write: bool = True,
          split_by_date: bool = True, signing_key: bytes | None = None) -> TrainResult:
    """Train on a history file and write a new model version.

    Parameters
    ----------
    data : path or DataFrame
        CSV or Parquet in the contract (or a frame of it), with the outcome columns.
    out : path
        Artifacts root; the version goes to ``<out>/models/<version>``.
    seed : int
        Seed of the random split (used only without ``completed_on``).
    drop_invalid : bool
        Train on the valid rows instead of refusing a file with invalid rows.
    promote : bool, optional
        Point ``CURRENT`` at the new version; by default only when none is current.
    split_by_date : bool
        Split by ``completed_on`` when every row has one; ``False`` splits at random
        (retraining does: its gate holds out the most recent outcomes itself).
    """
    candidates = candidates or CANDIDATES
    if isinstance(data, pd.DataFrame):
        raw = data
        if raw.empty:
            raise DataError("the history has no campaigns")
        data_name = "(data frame)"
        data_sha = hashlib.sha256(raw.to_csv(index=False).encode()).hexdigest()
    else:
        raw = load_history(data)
        data_name, data_sha = Path(data).name, file_sha256(data)
    v = validate_campaigns(raw, outcomes=True)
    notices = []
    if v.ignored_columns:
        extra = [c for c in v.ignored_columns if not c.startswith("true_")]
        if extra:
            notices.append("ignored columns outside the contract: " + ", ".join(extra))
    missing_cols = [e for e in v.errors if e.row is None]
    if missing_cols or (v.errors and not drop_invalid):
        raise SchemaError(v.errors)
    dropped = Counter(f"{e.column} {e.problem}" for e in v.errors)
    keep = np.flatnonzero(v.valid)
    if len(keep) < MIN_ROWS:
        raise DataError(f"{len(keep)} valid campaigns; at least {MIN_ROWS} are needed to "
                        "train and evaluate")
    batch = v.batch.take(keep)
    y = batch["failed"].astype(int)
    _check_classes(y, "the history")
    truth = None
    if TRUTH in raw.columns:
        truth = pd.to_numeric(raw[TRUTH], errors="coerce").to_numpy(dtype=float)[keep]
        if np.isnan(truth).any():
            notices.append(f"{TRUTH} has empty or non-numeric values; Bayes limit not reported")
            truth = None
    dates = batch["completed_on"]
    have_dates = split_by_date and all(d is not None for d in dates)
    if split_by_date and not have_dates and any(d is not None for d in dates):
        notices.append("completed_on is empty on some rows: split at random instead of by date")
    tr, va, te, split = split_rows(dates if have_dates else None, y, seed)
    for name, part in (("the training split", tr), ("the validation split", va),
                       ("the test split", te)):
        _check_classes(y[part], name)
    b_tr, b_va, b_te = batch.take(tr), batch.take(va), batch.take(te)

    fitted, val_loss = {}, {}
    bar = tqdm(candidates.items(), desc="fitting", unit="model", disable=_no_bar(progress))
    for name, params in bar:
        bar.set_postfix_str(name)
        model = AdditiveRiskModel(name=name, **params).fit(b_tr, y[tr])
        val_loss[name] = float(log_loss(y[va], model.predict_proba(b_va)[:, 1], labels=[0, 1]))
        fitted[name] = model
    chosen = min(val_loss, key=val_loss.__getitem__)
    model = fitted[chosen]
    # Platt scaling on validation log-odds: an affine map keeps contributions exact.
    raw_va = model.raw_decision_function(b_va)
    platt = BoundedLogisticRegression(alpha=0.0, lower=[1e-6]).fit(raw_va[:, None], y[va])
    model.set_calibration(platt.coef_[0, 0], platt.intercept_[0])
    p_va = model.predict_proba(b_va)[:, 1]
    model.bands_ = choose_bands(p_va, y[va])
    p_te = model.predict_proba(b_te)[:, 1]
    metrics = evaluate(y[te], p_te, None if truth is None else truth[te])
    metrics["validation_log_loss"] = val_loss
    metrics["chosen"] = chosen
    result = TrainResult(None, metrics, chosen, val_loss, len(keep), v.n_invalid,
                         dict(dropped), v.ignored_columns, split, model, notices)
    result.manifest = {
        "code_version": code_version,
        "seed": seed,
        "training_data": {"file": data_name, "sha256": data_sha,
                          "rows": int(len(raw)), "rows_used": int(len(keep)),
                          "rows_dropped": int(v.n_invalid), "dropped_reasons": dict(dropped)},
        "split": {"rule": split, "train": int(len(tr)), "validation": int(len(va)),
                  "test": int(len(te))},
        "model": {"family": chosen, "params": candidates[chosen],
                  "attribution": model.attribution_,
                  "calibration": {"method": "platt (affine on log-odds)",
                                  "slope": model.calibration_[0],
                                  "intercept": model.calibration_[1]}},
        "bands": {"medium_from": model.bands_[0], "high_from": model.bands_[1],
                  "rule": BAND_RULE},
        "metrics": metrics,
    }
    result.card_data = (y[te], p_te, None if truth is None else truth[te])
    # monitoring's reference: every campaign trained, validated or tested on, with the
    # final model's risk (docs/monitoring.md)
    result.reference = reference_statistics(batch, model.predict_proba(batch)[:, 1], y)
    if write:
        save_version(result, out, promote=promote, signing_key=signing_key)
    return result


def save_version(result: TrainResult, out: str | Path, *, promote: bool | None = None,
                 report: dict | None = None, signing_key: bytes | None = None) -> str:
    """Write a trained result as a new version (with a gate ``report`` if given); point
    CURRENT at it when ``promote`` (by default only when none is current); signed with
    ``signing_key`` (an Ed25519 private key, PEM) when given."""
    from training.model_card import write_model_card

    manifest = dict(result.manifest)
    if report is not None:
        manifest["gate"] = report

    def files(directory: Path, m: dict) -> None:
        write_model_card(directory, m, result.model, *result.card_data)
        if result.reference:  # listed in the manifest with its checksum, like every file
            (directory / REFERENCE_FILE).write_text(json.dumps(result.reference) + "\n")
        if report is not None:
            (directory / "gate_report.json").write_text(json.dumps(report, indent=2,
                                                                   default=str) + "\n")

    registry = Registry(out, signing_key=signing_key)
    result.version = registry.write(result.model, manifest, extra=files)
    if promote or (promote is None and registry.current_version() is None):
        registry.set_current(result.version)
    return result.version


def _no_bar(progress: bool | None) -> bool | None:
    return None if progress is None else not progress
