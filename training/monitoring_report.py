"""The monitoring report: one self-contained HTML file (inline SVG plots, no fetches).

Drift per factor, expected against observed failures over time, a reliability diagram,
and the tables behind them, all from the result of :func:`riskmodel.monitor`.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from riskmodel import label  # noqa: E402

_COLOURS = {"ok": "#1a7f37", "watch": "#9a6700", "retrain recommended": "#cf222e"}


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: no XML prolog, no DOCTYPE


def drift_plot(report: Mapping) -> str:
    """PSI per factor, the watch and retrain lines, moved factors in colour."""
    rows = list(reversed(report["input_drift"]["factors"]))
    policy = report["policy"]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1.2))
    colours = ["#cf222e" if r["moved"] else "#8c959f" for r in rows]
    ax.barh([label(r["factor"]) for r in rows], [r["psi"] for r in rows], color=colours)
    for x, style in ((policy["psi_watch"], ":"), (policy["psi_retrain"], "--")):
        ax.axvline(x, color="black", linestyle=style, linewidth=1)
    ax.set(xlabel="population stability index (window against training)",
           title="Input drift per factor (red: moved, significant after Holm)")
    ax.set_xscale("symlog", linthresh=0.1)
    return _svg(fig)


def failures_plot(report: Mapping) -> str | None:
    """Observed failures per month of completion with the expected count and its 95%
    interval; the expected failures of campaigns scored, per month of scoring."""
    months = [s for s in report["performance"].get("segments", []) if s["segment"] == "month"]
    scored = report["score_drift"]["expected_failures_by_month"]
    if not months and not scored:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.4))
    if months:
        x = [s["value"] for s in months]
        expected = [s["expected"] for s in months]
        low = [s["expected"] - s["interval"][0] for s in months]
        high = [s["interval"][1] - s["expected"] for s in months]
        ax.errorbar(x, expected, yerr=[low, high], fmt="o", color="#0969da", capsize=4,
                    label="expected (sum of risks), 95% interval")
        ax.plot(x, [s["observed"] for s in months], "s", color="#cf222e",
                label="observed failures")
    if scored:
        ax.plot([m["month"] for m in scored], [m["expected_failures"] for m in scored],
                "--", color="#8c959f", label="expected failures of campaigns scored")
    ax.set(xlabel="month", ylabel="failures", title="Expected against observed failures")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return _svg(fig)


def reliability_plot(report: Mapping) -> str | None:
    overall = report["performance"].get("overall")
    if overall is None:
        return None
    rows = [r for r in overall["reliability"] if r["count"]]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.plot([r["mean_predicted"] for r in rows], [r["observed_rate"] for r in rows], "o-",
            color="#0969da")
    for r in rows:
        ax.annotate(str(r["count"]), (r["mean_predicted"], r["observed_rate"]), fontsize=7,
                    xytext=(3, -9), textcoords="offset points")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted risk", ylabel="observed failure rate",
           title="Reliability (campaigns per point)")
    return _svg(fig)


def _table(head: list[str], rows: list[list]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1 else f"{v:,.1f}"
    return str(v)


def render(report: Mapping) -> str:
    """The report as one HTML page."""
    verdict = report["verdict"]
    window = report["window"]
    perf = report["performance"]
    parts = [
        f"<h1>Monitoring: model {html.escape(report['model_version'])}</h1>",
        f"<p class=verdict style='background:{_COLOURS[verdict]}'>{html.escape(verdict)}</p>",
        "<ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in report["reasons"]) + "</ul>"
        if report["reasons"] else "<p>Nothing moved beyond noise.</p>",
        f"<p>Window: {html.escape(_fmt(window['since']) if window['since'] else 'the start')}"
        f" to {html.escape(window['until'] or 'now')}; {window['campaigns']:,} campaigns scored"
        f" (last plan of each), {perf['outcomes']:,} outcomes completed. Reference: "
        f"{report['reference']['campaigns']:,} training campaigns.</p>",
        "<h2>Input drift</h2>", drift_plot(report),
        _table(["factor", "PSI", "p (Holm)", "moved", "campaigns"],
               [[r["factor"], r["psi"], r["p_adjusted"], "yes" if r["moved"] else "",
                 r["n"]] for r in report["input_drift"]["factors"]]),
    ]
    within = report["input_drift"]["by_campaign_type"]
    if within:
        parts += ["<h3>Moved within a campaign type</h3>",
                  _table(["factor", "campaign type", "PSI", "p (Holm)", "campaigns"],
                         [[r["factor"], r["campaign_type"], r["psi"], r["p_adjusted"], r["n"]]
                          for r in within])]
    score = report["score_drift"]
    parts += ["<h2>Predicted risk</h2>",
              f"<p>PSI {score['psi']:.3f} (p {score['p_value']:.2g}); mean risk "
              f"{score['mean_risk']:.3f} against {_fmt(score['reference_mean_risk'])} at "
              f"training.</p>"]
    plot = failures_plot(report)
    parts += ["<h2>Expected against observed failures</h2>", plot or ""]
    if "overall" in perf:
        o, card = perf["overall"], perf["card"]
        parts += [_table(["", "window", "model card (test split)"],
                         [["observed / expected failures",
                           f"{o['observed']} / {o['expected']:.1f}", ""],
                          ["95% interval of observed if right",
                           f"{o['interval'][0]:.1f}–{o['interval'][1]:.1f}", ""],
                          ["ROC AUC", o["roc_auc"], card.get("roc_auc")],
                          ["Brier score", o["brier"], card.get("brier")],
                          ["ECE", o["ece"], card.get("ece")]]),
                  "<h2>Reliability</h2>", reliability_plot(report) or "",
                  "<h3>Per month and segment</h3>",
                  _table(["segment", "value", "campaigns", "observed", "expected", "p (Holm)",
                          "miscalibrated", "ROC AUC", "Brier"],
                         [[s["segment"], s["value"], s["n"], s["observed"], s["expected"],
                           s["p_adjusted"], "yes" if s["miscalibrated"] else "", s["roc_auc"],
                           s["brier"]] for s in perf["segments"]])]
    else:
        parts.append(f"<p>{html.escape(perf.get('note', 'no outcomes'))}</p>")
    unmatched = perf["unmatched_outcomes"]
    if unmatched["count"]:
        parts.append(f"<p>{unmatched['count']} outcome(s) never matched a logged prediction "
                     f"(recorded with their plan): "
                     f"{html.escape(', '.join(unmatched['campaign_ids']))}"
                     f"{' …' if unmatched['count'] > len(unmatched['campaign_ids']) else ''}"
                     f"</p>")
    style = ("body{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
             "padding:0 1rem;color:#1f2328}table{border-collapse:collapse;margin:.5rem 0}"
             "td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:right}"
             "td:first-child,th:first-child{text-align:left}.verdict{color:white;"
             "display:inline-block;padding:.3rem .8rem;border-radius:.3rem;font-weight:600}"
             "svg{max-width:100%;height:auto}")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>Monitoring {html.escape(report['model_version'])}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}"
            f"<p><small>Computed {html.escape(report['computed_at'])}; thresholds and tests: "
            f"docs/monitoring.md.</small></p></body></html>\n")


def write_report(report: Mapping, path: str | Path) -> Path:
    """Write the page next to its final name, then rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(render(report), encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
