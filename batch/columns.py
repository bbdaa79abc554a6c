"""The flat, sortable output columns of a scored chunk, as arrow arrays."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  the column rules' library: loaded before workers fork

from riskmodel import (
    BANDS,
    DIRECTIONS,
    FAMILIES,
    OUT_OF_DEPTH_CODES,
    WARNING_CODES,
    Explanation,
    Scorer,
    validate_campaigns,
)


def output_columns(top_k: int, families: tuple[str, ...]) -> list[str]:
    """Names of the columns scoring adds, in order."""
    cols = ["failure_risk", "risk_band"]
    for p in range(1, top_k + 1):
        cols += [f"factor_{p}", f"factor_{p}_family", f"factor_{p}_log_odds",
                 f"factor_{p}_probability_points", f"factor_{p}_direction",
                 f"factor_{p}_reason", f"factor_{p}_mitigation", f"factor_{p}_risk_if_fixed"]
    cols += [f"family_{f}" for f in families] + ["warnings", "out_of_depth", "plan",
                                                  "plan_step_risks", "plan_failure_risk",
                                                  "plan_risk_band", "model_version"]
    return cols


_FACTOR = re.compile(r"factor_[0-9]+(?:_family|_log_odds|_probability_points|_direction"
                     r"|_reason|_mitigation|_risk_if_fixed)?")


def replaced_columns(names: list[str]) -> list[str]:
    """The names of ``names`` that scoring adds itself (for any number of factors): a
    file scored before has them, and scoring it again replaces them."""
    added = set(output_columns(0, FAMILIES))
    return [n for n in names if n in added or _FACTOR.fullmatch(n)]


def _take(labels: list, codes: np.ndarray) -> pa.Array:
    """``labels[codes]`` as a dictionary-encoded arrow column (code -1 gives an empty
    cell): no text is copied here; the writer thread expands it as it writes."""
    codes = np.asarray(codes, dtype=np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0),
                                          pa.array(labels, type=pa.string()))


def scored_columns(e: Explanation) -> dict[str, pa.Array]:
    """The columns scoring adds (see :func:`output_columns`), from the core's explanation:
    formatting only, every value and text comes from it."""
    n = e.n
    names = [info.name for info in e.about]
    cols: dict[str, pa.Array] = {"failure_risk": pa.array(e.risk),
                                 "risk_band": _take(list(BANDS), e.band)}
    for p in range(e.top.shape[1]):
        j, up = e.top[:, p], e.raises[:, p]
        q = f"factor_{p + 1}"
        cols[q] = _take(names, j)
        cols[f"{q}_family"] = _take([info.family for info in e.about], j)
        cols[f"{q}_log_odds"] = pa.array(e.top_log_odds[:, p])
        cols[f"{q}_probability_points"] = pa.array(e.probability_points[:, p])
        cols[f"{q}_direction"] = _take(list(DIRECTIONS), up.astype(np.int32))
        cols[f"{q}_reason"] = _take(e.texts, e.reasons[:, p])
        cols[f"{q}_mitigation"] = _take([info.mitigation for info in e.about],
                                        np.where(up, j, -1))
        cols[f"{q}_risk_if_fixed"] = pa.array(e.what_if_risk[:, p], from_pandas=True)
    for i, fam in enumerate(FAMILIES):
        cols[f"family_{fam}"] = pa.array(e.family_totals[:, i])
    # each combination of warnings, as "code;code", once
    bits = e.warnings.astype(np.int64) @ (1 << np.arange(len(WARNING_CODES), dtype=np.int64))
    combos, inverse = np.unique(bits, return_inverse=True)
    texts = [";".join(code for b, code in enumerate(WARNING_CODES) if m >> b & 1)
             for m in combos.tolist()]
    cols["warnings"] = _take(texts, inverse.reshape(-1))
    cols["out_of_depth"] = _out_of_depth(e, names)
    cols.update(_plan(e))
    cols["model_version"] = _take([e.version], np.zeros(n, dtype=np.int32))
    return cols


def _out_of_depth(e: Explanation, names: list[str]) -> pa.Array:
    """Each row's out-of-depth flags as "factor:code;factor:code" (empty: covered), each
    combination formatted once."""
    if e.out_of_depth is None or e.out_of_depth.shape[1] == 0:
        return _take([""], np.zeros(e.n, dtype=np.int32))
    # two bits per factor (codes 0-3) make one int64 key per row for up to 31 factors
    keys = e.out_of_depth.astype(np.int64) @ (4 ** np.arange(len(names), dtype=np.int64))
    combos, inverse = np.unique(keys, return_inverse=True)
    texts = [";".join(f"{name}:{OUT_OF_DEPTH_CODES[(k >> 2 * j & 3) - 1]}"
                      for j, name in enumerate(names) if k >> 2 * j & 3)
             for k in combos.tolist()]
    return _take(texts, inverse.reshape(-1))


_RISK_TEXT = [f"{i / 1000:.3f}" for i in range(1001)]  # a step's risk, to 0.1 point


def _plan(e: Explanation) -> dict[str, pa.Array]:
    """The plan as columns: its factors in order ("a;b"), the risk after each step
    ("0.412;0.287", to 0.001), the risk and band after the whole plan."""
    n = e.n
    if e.plan_steps is None or e.plan_risk is None or e.plan_failure_risk is None \
            or e.plan_band is None:
        empty = _take([""], np.zeros(n, dtype=np.int32))
        return {"plan": empty, "plan_step_risks": empty,
                "plan_failure_risk": pa.array(e.risk), "plan_risk_band": _take(
                    list(BANDS), e.band)}
    steps = e.plan_steps.astype(np.int64)
    width = steps.shape[1]
    # four bits per step (action + 1, 0 = none) make one int64 key per row for up to 15
    keys = (steps + 1) @ (16 ** np.arange(width, dtype=np.int64)) if width <= 15 else None
    names = [e.about[a.index].name for a in e.plan_actions]
    if keys is None:
        combos, inverse = np.unique(steps, axis=0, return_inverse=True)
        texts = [";".join(names[j] for j in row if j >= 0) for row in combos.tolist()]
    else:
        combos, inverse = np.unique(keys, return_inverse=True)
        texts = [";".join(names[(k >> 4 * p & 15) - 1] for p in range(width)
                          if k >> 4 * p & 15) for k in combos.tolist()]
    planned = np.flatnonzero(steps[:, 0] >= 0) if width else np.zeros(0, dtype=np.intp)
    risk_codes = np.full(n, -1, dtype=np.int32)
    risk_texts = [""]
    if len(planned):
        # each planned row's risks after its steps, in thousandths (-1 past its last
        # step); each distinct combination formatted once
        count = (steps[planned] >= 0).sum(axis=1)
        past = np.arange(e.plan_risk.shape[1]) >= count[:, None]
        milli = np.where(past, -1, np.rint(np.where(past, 0, e.plan_risk[planned]) * 1000))
        milli = np.ascontiguousarray(milli.astype(np.int16))  # -1..1000
        # a row's bytes as one value: np.unique over rows, without its axis=0 copy
        rows = milli.view(np.dtype((np.void, milli.dtype.itemsize * milli.shape[1])))
        risk_keys, risk_inverse = np.unique(rows.reshape(-1), return_inverse=True)
        risk_rows = risk_keys.view(np.int16).reshape(len(risk_keys), -1).tolist()
        risk_texts = [";".join(_RISK_TEXT[r] for r in row if r >= 0) for row in risk_rows]
        risk_codes[planned] = risk_inverse.reshape(-1)
    return {"plan": _take(texts, inverse.reshape(-1)),
            "plan_step_risks": _take(risk_texts, risk_codes),
            "plan_failure_risk": pa.array(e.plan_failure_risk),
            "plan_risk_band": _take(list(BANDS), e.plan_band)}


def score_chunk(scorer: Scorer, df: pd.DataFrame, top_k: int):
    """Validate and score one chunk: (valid mask, errors, added columns, explanation)."""
    v = validate_campaigns(df)
    valid = v.valid
    batch = v.batch if valid.all() else v.batch.take(np.flatnonzero(valid))
    if batch.n == 0:
        return valid, v.errors, None, None
    e = scorer.explain_batch(batch, top_k)
    return valid, v.errors, scored_columns(e), e
