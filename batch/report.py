"""The closing summary of a batch run as a self-contained HTML page."""

from __future__ import annotations

import base64
import html
import io

from batch.summary import BatchSummary, summary_lines


def _bar_png(labels: list[str], values: list[float], title: str, xlabel: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 0.35 * len(labels) + 1.2))
    ax.barh(range(len(labels)), values)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set(title=title, xlabel=xlabel)
    ax.axvline(0, color="grey", lw=0.5)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def render_html(s: BatchSummary) -> str:
    """The summary with charts of risk by campaign type and by factor family."""
    types = sorted(s.risk_by_type.items(), key=lambda kv: kv[1][0] / kv[1][1])
    risk_png = _bar_png([t for t, _ in types], [v[0] / v[1] for _, v in types],
                        "Mean failure risk by campaign type", "risk") if types else ""
    fams = sorted(s.family_sums.items(), key=lambda kv: kv[1])
    fam_png = _bar_png([f for f, _ in fams], [v / max(s.scored, 1) for _, v in fams],
                       "Mean contribution by factor family", "log-odds vs. average") \
        if fams else ""
    rows = "".join(f"<tr><td>{html.escape(cid)}</td><td>{risk:.1%}</td><td>{band}</td>"
                   f"<td>{html.escape(factor)}</td></tr>"
                   for risk, cid, band, factor in s.riskiest)
    items = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(s)[:3])
    img = lambda b64: f'<img alt="chart" src="data:image/png;base64,{b64}">' if b64 else ""  # noqa: E731
    return (f"<!doctype html><meta charset=utf-8><title>riskmodel batch report</title>"
            f"<h1>Campaign risk report</h1><ul>{items}</ul>{img(risk_png)}{img(fam_png)}"
            f"<h2>Riskiest campaigns</h2><table border=1 cellpadding=4><tr><th>campaign"
            f"</th><th>risk</th><th>band</th><th>leading factor</th></tr>{rows}</table>")
