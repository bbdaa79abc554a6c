"""The flat, sortable output columns of a scored chunk, as arrow arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  the column rules' library: loaded before workers fork

from riskmodel import (
    BANDS,
    DIRECTIONS,
    FAMILIES,
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
    cols += [f"family_{f}" for f in families] + ["warnings", "model_version"]
    return cols


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
    cols["model_version"] = _take([e.version], np.zeros(n, dtype=np.int32))
    return cols


def score_chunk(scorer: Scorer, df: pd.DataFrame, top_k: int):
    """Validate and score one chunk: (valid mask, errors, added columns, explanation)."""
    v = validate_campaigns(df)
    valid = v.valid
    batch = v.batch if valid.all() else v.batch.take(np.flatnonzero(valid))
    if batch.n == 0:
        return valid, v.errors, None, None
    e = scorer.explain_batch(batch, top_k)
    return valid, v.errors, scored_columns(e), e
