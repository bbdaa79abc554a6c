"""Where the model has little or no data: the training coverage of each factor.

At fitting time :func:`fit_coverage` records, as plain data (a dict of numbers and lists,
stored on the model as ``coverage_``), what the training campaigns held of each factor: a
numeric factor's observed range and how often it was unknown, a level factor's count per
level (unknown last). At scoring time :class:`Coverage` flags each campaign's factors that
lie where the model saw little: a number beyond the observed range (the fitted curve is
flat there: the model extrapolates), a level seen fewer than ``min_count`` times, an
unknown value in a field that was rarely unknown (fewer than ``min_count`` campaigns or a
share under ``rare_unknown_share``). The flags are information only; they never change a
score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from riskmodel._fast import constructor
from riskmodel.advice import OUT_OF_DEPTH_CODES, out_of_depth_message
from riskmodel.features import Factor, level_codes

MIN_COUNT = 30  # a level or an unknown seen fewer times in training is "little data"
RARE_UNKNOWN_SHARE = 0.01

# codes in the (rows x factors) array of flags; 0 = covered
BEYOND_RANGE, RARE_LEVEL, RARELY_UNKNOWN = 1, 2, 3


@dataclass(frozen=True)
class OutOfDepth:
    """One factor of a campaign that lies where the model has little or no data."""

    factor: str
    code: str  # one of OUT_OF_DEPTH_CODES
    value: object  # as the planner wrote it; None for unknown
    message: str
    training_range: tuple[float, float] | None  # a numeric factor's observed range
    training_count: int  # training campaigns with this level (or unknown); for a range,
    # the campaigns the range was observed on


_new_out_of_depth = constructor(OutOfDepth)


def fit_coverage(factors: Sequence[Factor], inputs: dict[str, np.ndarray],
                 min_count: int = MIN_COUNT,
                 rare_unknown_share: float = RARE_UNKNOWN_SHARE) -> dict:
    """The training coverage of each factor, as plain data."""
    out: dict = {"rows": 0, "min_count": int(min_count),
                 "rare_unknown_share": float(rare_unknown_share), "factors": {}}
    for f in factors:
        x = inputs[f.name]
        out["rows"] = int(len(x))
        if f.kind == "numeric":
            known = x[~np.isnan(x)]
            known = known[np.isfinite(known)]
            out["factors"][f.name] = {
                "kind": "numeric",
                "low": float(known.min()) if len(known) else None,
                "high": float(known.max()) if len(known) else None,
                "known": int(len(known)), "unknown": int(np.isnan(x).sum())}
        else:
            codes = level_codes(x, len(f.levels))
            counts = np.bincount(codes, minlength=len(f.levels) + 1)
            out["factors"][f.name] = {"kind": "level", "counts": [int(c) for c in counts]}
    return out


class Coverage:
    """A model's ``coverage_`` arranged for checking campaigns: arrays for a batch, plain
    floats for one campaign."""

    def __init__(self, stats: dict, factors: Sequence[Factor]) -> None:
        self.factors = tuple(factors)
        rows = max(int(stats["rows"]), 1)
        min_count, rare = int(stats["min_count"]), float(stats["rare_unknown_share"])
        self._numeric: list[tuple[int, str, float, float, bool, int, int]] = []
        self._level: list[tuple[int, str, list[bool], list[int]]] = []
        for j, f in enumerate(self.factors):
            s = stats["factors"].get(f.name)
            if s is None:
                continue
            if s["kind"] == "numeric":
                low = -np.inf if s["low"] is None else s["low"]
                high = np.inf if s["high"] is None else s["high"]
                unknown = s["unknown"]
                self._numeric.append((j, f.name, low, high,
                                      unknown < min_count or unknown / rows < rare,
                                      unknown, s["known"]))
            else:
                counts = s["counts"]
                thin = [c < min_count for c in counts[:-1]]
                unknown = counts[-1]
                thin.append(unknown < min_count or unknown / rows < rare)
                self._level.append((j, f.name, thin, counts))
        # a level factor's flag by level code, kept only where some level is thin
        self._level_tables = [
            (j, name, np.array([0 if not t else RARELY_UNKNOWN if k == len(thin) - 1
                                else RARE_LEVEL for k, t in enumerate(thin)], dtype=np.int8))
            for j, name, thin, _ in self._level if any(thin)]
        # per factor: (raw input, code) -> (name, training count, training range)
        self._about: dict = {}
        for j, name, low, high, _, unknown, known in self._numeric:
            self._about[j] = (lambda raw, code, name=name, low=low, high=high,
                              unknown=unknown, known=known:
                              (name, known, (float(low), float(high))) if code == BEYOND_RANGE
                              else (name, unknown, None))
        for j, name, thin, counts in self._level:
            last = len(thin) - 1
            self._about[j] = (lambda raw, code, name=name, counts=counts, last=last:
                              (name, counts[last if raw != raw or raw < 0 else int(raw)],
                               None))

    def flags(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """(rows x factors) codes: 0 covered, else BEYOND_RANGE, RARE_LEVEL or
        RARELY_UNKNOWN."""
        n = len(next(iter(inputs.values()))) if inputs else 0
        # column-major: each factor's column is written contiguously
        out = np.zeros((n, len(self.factors)), dtype=np.int8, order="F")
        for j, name, low, high, rare_unknown, _, _ in self._numeric:
            x = inputs[name]
            with np.errstate(invalid="ignore"):
                out[:, j] = (x < low) | (x > high)  # True reads as BEYOND_RANGE (1)
            if rare_unknown:
                out[np.isnan(x), j] = RARELY_UNKNOWN
        for j, name, table in self._level_tables:  # only factors with a thin level
            out[:, j] = table[level_codes(inputs[name], len(table) - 1)]
        return out

    def one(self, x: dict[str, float]) -> list[tuple[int, int]]:
        """:meth:`flags` for one campaign given as plain numbers: (factor index, code)."""
        out = []
        for j, name, low, high, rare_unknown, _, _ in self._numeric:
            v = x[name]
            if v != v:
                if rare_unknown:
                    out.append((j, RARELY_UNKNOWN))
            elif v < low or v > high:
                out.append((j, BEYOND_RANGE))
        for j, name, thin, _ in self._level:
            c = x[name]
            code = len(thin) - 1 if c != c or c < 0 else int(c)
            if thin[code]:
                out.append((j, RARELY_UNKNOWN if code == len(thin) - 1 else RARE_LEVEL))
        return out

    def describe(self, j: int, code: int, raw: float, value: object,
                 locale: str = "en") -> OutOfDepth:
        """The :class:`OutOfDepth` of factor ``j`` flagged ``code``: ``raw`` its input as the
        model reads it (a number, or a level's code; NaN unknown), ``value`` as the planner
        wrote it; its message in ``locale``."""
        word = OUT_OF_DEPTH_CODES[code - 1]
        name, count, span = self._about[j](raw, code)
        return _new_out_of_depth(name, word, value,
                                 out_of_depth_message(word, name, value, span, count, locale),
                                 span, count)
