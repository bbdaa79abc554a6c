"""The flat, sortable output columns of a scored chunk, as arrow arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from riskmodel import ADVICE, BANDS, FAMILIES, Scorer, readiness_flags, validate_campaigns


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


class _Labels:
    """Distinct texts seen so far (reasons, warning lists), each formatted once."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self._code: dict = {}

    def code(self, key, make) -> int:
        c = self._code.get(key)
        if c is None:
            c = self._code[key] = len(self.labels)
            self.labels.append(make())
        return c

    def text(self, text: str) -> int:
        return self.code(text, lambda: text)


def _reason_codes(texts: _Labels, reason, x: np.ndarray, step: float | None) -> np.ndarray:
    """The code of ``reason(v)`` for every input ``v`` of ``x``, formatting each distinct
    text about once. With ``step`` (the advice's hint), values that round to the same
    multiple of 1/step are grouped; a group is trusted when its smallest and largest value
    read the same (the texts are monotone in the value), else its values are formatted
    one by one."""
    key = x if step is None else np.rint(x * step)
    uniq, inverse = np.unique(key, return_inverse=True)
    if step is None:
        return np.array([texts.text(reason(v)) for v in uniq.tolist()],
                        dtype=np.int32)[inverse]
    lo = np.full(len(uniq), np.inf)
    hi = np.full(len(uniq), -np.inf)
    np.minimum.at(lo, inverse, x)
    np.maximum.at(hi, inverse, x)
    codes = np.empty(len(uniq), dtype=np.int32)
    out = np.empty(len(x), dtype=np.int32)
    for g, (a, b) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
        text = reason(a)
        if text == reason(b):
            codes[g] = texts.text(text)
        else:  # the hint does not hold here
            codes[g] = -1
            members = np.flatnonzero(inverse == g)
            out[members] = [texts.text(reason(v)) for v in x[members].tolist()]
    grouped = codes[inverse]
    return np.where(grouped >= 0, grouped, out)


def score_chunk(scorer: Scorer, df: pd.DataFrame, top_k: int):
    """Validate and score one chunk: (valid mask, errors, new arrow columns, arrays, batch)."""
    texts = _Labels()  # per chunk: distinct values (sales, delays...) grow with the file
    v = validate_campaigns(df)
    valid = v.valid
    batch = v.batch if valid.all() else v.batch.take(np.flatnonzero(valid))
    if batch.n == 0:
        return valid, v.errors, None, None, None
    arr = scorer.explain_arrays(batch, top_k)
    n = batch.n
    names = list(scorer.factor_names)
    cols: dict[str, pa.Array] = {"failure_risk": pa.array(arr.risk),
                                 "risk_band": _take(list(BANDS), arr.band)}
    mitigations = [ADVICE[name].mitigation for name in names]
    for p in range(arr.top.shape[1]):
        j = arr.top[:, p]
        c = arr.contributions[np.arange(n), j]
        raises = c > 0
        reason = np.full(n, -1, dtype=np.int32)
        for k in np.unique(j):
            rows = np.flatnonzero((j == k) & raises)
            if len(rows):
                name = names[k]
                advice = ADVICE[name]
                reason[rows] = _reason_codes(
                    texts, lambda v, a=advice, n=name: a.reason(scorer.display_value(n, v)),
                    arr.inputs[name][rows], advice.reason_step)
        q = f"factor_{p + 1}"
        cols[q] = _take(names, j)
        cols[f"{q}_family"] = _take(list(scorer.families), j)
        cols[f"{q}_log_odds"] = pa.array(c)
        cols[f"{q}_probability_points"] = pa.array(arr.risk - 1 / (1 + np.exp(c - arr.log_odds)))
        cols[f"{q}_direction"] = _take(["lowers", "raises"], raises.astype(np.int32))
        cols[f"{q}_reason"] = _take(texts.labels, reason)
        cols[f"{q}_mitigation"] = _take(mitigations, np.where(raises, j, -1))
        cols[f"{q}_risk_if_fixed"] = pa.array(arr.what_if_risk[:, p], from_pandas=True)
    fam_index = {f: i for i, f in enumerate(FAMILIES)}
    totals = np.zeros((n, len(fam_index)))
    for j, fam in enumerate(scorer.families):
        totals[:, fam_index[fam]] += arr.contributions[:, j]
    for fam, i in fam_index.items():
        cols[f"family_{fam}"] = pa.array(totals[:, i])
    flags = readiness_flags(batch.columns)
    codes = list(flags)
    bits = np.zeros(n, dtype=np.int64)
    for b, mask in enumerate(flags.values()):
        bits |= np.asarray(mask, dtype=np.int64) << b
    lookup = np.zeros(1 << len(codes), dtype=np.int32)  # combination of flags -> text
    for m in np.flatnonzero(np.bincount(bits, minlength=len(lookup))).tolist():
        lookup[m] = texts.code(("warnings", m), lambda m=m: ";".join(
            code for b, code in enumerate(codes) if m >> b & 1))
    cols["warnings"] = _take(texts.labels, lookup[bits])
    cols["model_version"] = _take([scorer.version], np.zeros(n, dtype=np.int32))
    return valid, v.errors, cols, arr, batch
