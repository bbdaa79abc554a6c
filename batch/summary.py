"""What a batch run did: counts, bands, leading families, the riskiest campaigns."""

from __future__ import annotations

import heapq
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from riskmodel import BANDS, FAMILIES, N_, SCHEMA, Explanation


@dataclass
class BatchSummary:
    """What a run did: counts, bands, leading families, the riskiest campaigns."""

    scored: int = 0
    rejected_rows: int = 0
    problems: int = 0
    bands: Counter[str] = field(default_factory=Counter)
    leading_families: Counter[str] = field(default_factory=Counter)
    # (risk, campaign_id, band, top factor)
    riskiest: list[tuple[float, str, str, str]] = field(default_factory=list)
    # campaign_type -> (sum of risks, count)
    risk_by_type: dict[str, tuple[float, int]] = field(default_factory=dict)
    family_sums: dict[str, float] = field(default_factory=dict)  # sums of contributions
    model_version: str = ""
    rejects_path: Path | None = None
    replaced: int = 0  # score columns the input had (scored before), replaced

    def merge(self, part: BatchSummary) -> None:
        """Add one chunk's summary (its counts, sums and riskiest campaigns) to this one."""
        self.scored += part.scored
        self.bands.update(part.bands)
        self.leading_families.update(part.leading_families)
        for fam, total in part.family_sums.items():
            self.family_sums[fam] = self.family_sums.get(fam, 0.0) + total
        for label, (s, c) in part.risk_by_type.items():
            s0, c0 = self.risk_by_type.get(label, (0.0, 0))
            self.risk_by_type[label] = (s0 + s, c0 + c)
        for item in part.riskiest:
            if len(self.riskiest) < 10:
                heapq.heappush(self.riskiest, item)
            else:
                heapq.heappushpop(self.riskiest, item)


def summarise(summary: BatchSummary, e: Explanation) -> None:
    """Add one chunk's explanation to the summary."""
    summary.scored += e.n
    for band, count in zip(BANDS, np.bincount(e.band, minlength=len(BANDS)).tolist(),
                           strict=True):
        if count:
            summary.bands[band] += count
    if e.top.shape[1]:
        leading = np.bincount(e.top[:, 0], minlength=len(e.about)).tolist()
        for info, count in zip(e.about, leading, strict=True):
            if count:
                summary.leading_families[info.family] += count
    ids = e.batch["campaign_id"]
    top = np.argpartition(-e.risk, 9)[:10] if e.n > 10 else np.arange(e.n)
    for i in top:
        item = (float(e.risk[i]), str(ids[i]), BANDS[e.band[i]],
                e.about[e.top[i, 0]].name if e.top.shape[1] else "")
        if len(summary.riskiest) < 10:
            heapq.heappush(summary.riskiest, item)
        else:
            heapq.heappushpop(summary.riskiest, item)
    types = e.batch["campaign_type"]
    for code in np.unique(types):
        m = types == code
        label = SCHEMA["campaign_type"].categories[code] if code >= 0 else "(unknown)"
        s, c = summary.risk_by_type.get(label, (0.0, 0))
        summary.risk_by_type[label] = (s + float(e.risk[m].sum()), c + int(m.sum()))
    for i, fam in enumerate(FAMILIES):
        summary.family_sums[fam] = (summary.family_sums.get(fam, 0.0)
                                    + float(e.family_totals[:, i].sum()))


def _same(message: str) -> str:
    return message


def summary_lines(s: BatchSummary, gettext: Callable[[str], str] = _same) -> list[str]:
    """The run in a few lines for the terminal; ``gettext`` translates them (the command
    line passes its own; the texts are in the ``commands`` catalog)."""
    _ = gettext
    total = s.scored + s.rejected_rows
    line = _(N_("scored {scored} of {total} campaigns with model {version}; rejected "
                "{rejected} ({problems} problems)")).format(
        scored=s.scored, total=total, version=s.model_version, rejected=s.rejected_rows,
        problems=s.problems)
    if s.rejects_path:
        line += _(N_(", see {path}")).format(path=s.rejects_path)
    lines = [line]
    if s.scored:
        lines.append(_(N_("bands: {bands}")).format(bands=", ".join(
            f"{b} {s.bands.get(b, 0)}" for b in ("high", "medium", "low"))))
        lines.append(_(N_("leading factor families: {families}")).format(families=", ".join(
            f"{fam} {n}" for fam, n in s.leading_families.most_common(4))))
        lines.append(_(N_("riskiest campaigns:")))
        led = _(N_("led by {factor}"))
        for risk, cid, band, factor in s.riskiest[:5]:
            lines.append(f"  {cid:<24} {risk:6.1%}  {band:<6} " + led.format(factor=factor))
    if s.replaced:
        lines.append(_(N_("the input was scored before: its {n} score columns were replaced "
                          "by this run's")).format(n=s.replaced))
    return lines


class _NoBar:
    """What a run updates when no progress is shown: nothing."""

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(progress: bool | None):
    """The run's progress bar on stderr (tqdm): shown if ``progress``, hidden if False, and
    for None only when stderr is a terminal, as tqdm decides. tqdm is loaded only to be
    shown: a run in a script or a pipe does not pay its import."""
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return _NoBar()
    from tqdm import tqdm

    return tqdm(unit=" rows", desc="scoring", file=sys.stderr)
