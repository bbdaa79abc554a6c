"""A quarter's plan, scored: what the workbench's quarter view and the batch report show.

Built from the files ``riskmodel score`` writes (the scored file and the rejects file), read
back in chunks, so it sees exactly what a planner downloads and its memory does not grow
with the file: counts by band, expected failures (the sum of the risks), the distribution of
risk, the most common leading causes, the riskiest campaigns with their top factors, the
rejected rows, and the action list — for each mitigation, the campaigns where the model's
what-if says it lowers the risk, and how many failures it avoids in expectation.
"""

from __future__ import annotations

import csv
import heapq
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from batch.cells import raw_table, raw_text
from batch.chunks import read_chunks
from riskmodel import ADVICE, BANDS, advice_text

HISTOGRAM_BINS = 20  # risk in steps of 5 points
TABLE_ROWS = 2000  # campaigns listed in the view (the riskiest); the files hold them all
EXAMPLES = 10  # campaigns named under each action
REJECTS_SHOWN = 500


@dataclass
class Action:
    """One mitigation: on which campaigns it lowers the risk, and by how much in all."""

    factor: str
    mitigation: str
    target: str
    campaigns: int = 0
    avoided: float = 0.0  # expected failures avoided: the sum of (risk - risk if fixed)
    examples: list = field(default_factory=list)  # (avoided, campaign_id, risk, fixed)


@dataclass
class Quarter:
    """The summary of one scored plan, as plain data (JSON-able with :meth:`to_dict`)."""

    model_version: str = ""
    scored: int = 0
    rejected_rows: int = 0
    problems: int = 0
    bands: dict = field(default_factory=lambda: dict.fromkeys(BANDS, 0))
    band_cuts: dict = field(default_factory=dict)  # medium_from, high_from
    expected_failures: float = 0.0
    histogram: list = field(default_factory=lambda: [0] * HISTOGRAM_BINS)
    leading_causes: dict = field(default_factory=dict)  # factor -> campaigns it leads
    leading_families: dict = field(default_factory=dict)
    warnings: dict = field(default_factory=dict)  # readiness warning code -> campaigns
    out_of_depth: dict = field(default_factory=dict)  # "factor:code" -> campaigns
    actions: list = field(default_factory=list)  # of Action, most failures avoided first
    campaigns: list = field(default_factory=list)  # the riskiest, as dicts
    rejects: list = field(default_factory=list)  # the first rejected cells, as dicts
    top_k: int = 0
    source: str = ""

    @property
    def total(self) -> int:
        return self.scored + self.rejected_rows

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Quarter:
        d = dict(d)
        d["actions"] = [Action(**a) for a in d.get("actions", [])]
        return cls(**d)


def _top_k(names: list[str]) -> int:
    k = 0
    while f"factor_{k + 1}" in names:
        k += 1
    return k


def _numbers(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s.replace("", np.nan), errors="coerce").to_numpy(dtype=float)


def _texts(s: pd.Series) -> np.ndarray:
    return s.astype(object).where(s.notna(), "").to_numpy(dtype=object)


def summarise_quarter(scored: str | Path, rejects: str | Path | None = None, *,
                      bands: dict | None = None, source: str = "",
                      table_rows: int = TABLE_ROWS, chunk_rows: int = 100_000,
                      locale: str = "en") -> Quarter:
    """Summarise a scored file (CSV or Parquet, as ``riskmodel score`` writes it) and its
    rejects file.

    Parameters
    ----------
    scored, rejects : path
        The files of one run; ``rejects`` may be ``None`` (no row was rejected).
    bands : dict, optional
        The model's band cut-offs (``Scorer.bands``), drawn on the distribution.
    locale : str
        The language of the action list's mitigations and targets (as the scored file's
        texts were written: ``Scorer.with_locale``).
    table_rows : int
        How many of the riskiest campaigns to keep for the table.
    """
    q = Quarter(band_cuts=dict(bands or {}), source=source)
    actions: dict[str, Action] = {}
    causes: Counter = Counter()
    families: Counter = Counter()
    warnings: Counter = Counter()
    depth: Counter = Counter()
    kept: pd.DataFrame | None = None
    written_csv = Path(scored).suffix.lower() != ".parquet"
    for table in read_chunks(Path(scored), chunk_rows):
        if written_csv:  # text cells as scored, not as made safe for a spreadsheet
            table = raw_table(table)
        df = table.to_pandas()
        if df.empty:
            continue
        k = q.top_k = _top_k(list(df.columns))
        risk = _numbers(df["failure_risk"])
        q.model_version = q.model_version or str(df["model_version"].iloc[0])
        q.scored += len(df)
        q.expected_failures += float(np.nansum(risk))
        for band, n in df["risk_band"].astype(str).value_counts().items():
            q.bands[band] = q.bands.get(band, 0) + int(n)
        hist, _ = np.histogram(np.clip(risk, 0, 1), bins=HISTOGRAM_BINS, range=(0, 1))
        q.histogram = [a + int(b) for a, b in zip(q.histogram, hist.tolist(), strict=True)]
        ids = _texts(df["campaign_id"])
        if k:
            lead = _texts(df["factor_1_direction"]) == "raises"
            causes.update(_texts(df["factor_1"])[lead].tolist())
            families.update(_texts(df["factor_1_family"])[lead].tolist())
        for p in range(1, k + 1):
            fixed = _numbers(df[f"factor_{p}_risk_if_fixed"])
            gains = risk - fixed
            # a what-if that does not lower the risk (an interaction can turn it) is no action
            rows = np.flatnonzero(~np.isnan(fixed) & (gains > 0))
            names = _texts(df[f"factor_{p}"])
            for i in rows.tolist():
                name = names[i]
                a = actions.get(name)
                if a is None:
                    advice = ADVICE.get(name)
                    mitigation, target = (advice_text(m, locale) if m else "" for m in (
                        getattr(advice, "mitigation", None),
                        getattr(advice, "target_label", None)))
                    a = actions[name] = Action(name, mitigation, target)
                a.campaigns += 1
                a.avoided += float(gains[i])
                item = (float(gains[i]), str(ids[i]), float(risk[i]), float(fixed[i]))
                if len(a.examples) < EXAMPLES:
                    heapq.heappush(a.examples, item)
                else:
                    heapq.heappushpop(a.examples, item)
        for cell in _texts(df["warnings"]).tolist():
            if cell:
                warnings.update(cell.split(";"))
        if "out_of_depth" in df:  # files scored before issue 15 have no such column
            for cell in _texts(df["out_of_depth"]).tolist():
                if cell:
                    depth.update(cell.split(";"))
        df = df.assign(failure_risk=risk)
        part = df.nlargest(table_rows, "failure_risk", keep="first")
        both = part if kept is None else pd.concat([kept, part])
        kept = both.nlargest(table_rows, "failure_risk", keep="first")
    q.leading_causes = dict(causes.most_common())
    q.leading_families = dict(families.most_common())
    q.warnings = dict(warnings.most_common())
    q.out_of_depth = dict(depth.most_common())
    for a in actions.values():
        a.examples = [list(e) for e in sorted(a.examples, reverse=True)]
    q.actions = sorted(actions.values(), key=lambda a: (-a.avoided, a.factor))
    if kept is not None:
        q.campaigns = [_campaign(r, q.top_k) for r in kept.to_dict("records")]
    if rejects is not None and Path(rejects).is_file():
        _read_rejects(q, Path(rejects))
    return q


def _cell(v: object) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(v)


def _float(v: object) -> float | None:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if x != x else x


def _campaign(r: dict, top_k: int) -> dict:
    factors = []
    for p in range(1, top_k + 1):
        name = _cell(r.get(f"factor_{p}"))
        if not name:
            continue
        factors.append({"factor": name, "family": _cell(r.get(f"factor_{p}_family")),
                        "direction": _cell(r.get(f"factor_{p}_direction")),
                        "log_odds": _float(r.get(f"factor_{p}_log_odds")),
                        "reason": _cell(r.get(f"factor_{p}_reason")),
                        "mitigation": _cell(r.get(f"factor_{p}_mitigation")),
                        "fixed": _float(r.get(f"factor_{p}_risk_if_fixed"))})
    warnings = _cell(r.get("warnings"))
    depth = _cell(r.get("out_of_depth"))
    return {"campaign_id": _cell(r.get("campaign_id")), "risk": float(r["failure_risk"]),
            "band": _cell(r.get("risk_band")), "factors": factors,
            "warnings": warnings.split(";") if warnings else [],
            "out_of_depth": depth.split(";") if depth else []}


def _read_rejects(q: Quarter, path: Path) -> None:
    rows: set = set()
    with open(path, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            q.problems += 1
            rows.add(rec.get("row", ""))
            if len(q.rejects) < REJECTS_SHOWN:
                q.rejects.append({k: raw_text(rec.get(k) or "") for k in
                                  ("row", "sheet", "sheet_row", "campaign_id", "column",
                                   "value", "reason")})
    q.rejected_rows = len(rows)
