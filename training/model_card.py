"""The model card: a Markdown page with ROC, calibration and factor-effect plots."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from riskmodel import FACTORS, AdditiveRiskModel  # noqa: E402


def _roc(path: Path, y, p, truth) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    fpr, tpr, _ = roc_curve(y, p)
    ax.plot(fpr, tpr, label="model")
    if truth is not None:
        f2, t2, _ = roc_curve(y, truth)
        ax.plot(f2, t2, "--", label="true probability (Bayes limit)")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test split")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _calibration(path: Path, table: list[dict]) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    rows = [r for r in table if r["count"]]
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.plot([r["mean_predicted"] for r in rows], [r["observed_rate"] for r in rows], "o-")
    ax.set(xlabel="predicted risk", ylabel="observed failure rate",
           title="Calibration, test split")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _factors(path: Path, model: AdditiveRiskModel) -> None:
    n = len(model.factors)
    cols = 4
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.2, rows * 2.4))
    numeric_terms = {t.factor: t for t in model.terms_ if t.kind == "numeric"}
    for ax, f in zip(axes.flat, model.factors, strict=False):
        if f.kind == "numeric":
            knots = numeric_terms[f.name].knots
            if len(knots) >= 2:
                grid = np.linspace(knots[0], knots[-1], 100)
                ax.plot(grid, model.shape(f.name, grid))
        else:
            values = model.shape(f.name)
            labels = list(f.levels) + ["unknown"]
            ax.barh(range(len(values)), values)
            ax.set_yticks(range(len(values)), labels, fontsize=6)
        ax.axhline(0, color="grey", lw=0.5) if f.kind == "numeric" else ax.axvline(
            0, color="grey", lw=0.5)
        ax.set_title(f"{f.name}\n({f.family})", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("How each factor moves the risk (log-odds, centred; main effects)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.4f}" if isinstance(x, float) else str(x)


def write_model_card(directory: Path, manifest: dict, model: AdditiveRiskModel, y, p,
                     truth) -> None:
    """Write ``model_card.md`` and its plots into ``directory``."""
    bands = model.bands_
    if bands is None:
        raise ValueError("the model has no risk bands: choose them before writing its card")
    _roc(directory / "roc.png", y, p, truth)
    m = manifest["metrics"]
    _calibration(directory / "calibration.png", m["calibration_table"])
    _factors(directory / "factors.png", model)
    lines = [
        f"# Model card: {manifest['version']}",
        "",
        f"Created {manifest['created_at']} by riskmodel {manifest.get('code_version')}.",
        f"Chosen family: **{m['chosen']}** (lowest validation log loss). Calibration: "
        f"Platt scaling on log-odds, slope {model.calibration_[0]:.4f}, intercept "
        f"{model.calibration_[1]:.4f}.",
        "",
        "## Training data",
        "",
        f"- file `{manifest['training_data']['file']}`, sha256 "
        f"`{manifest['training_data']['sha256'][:16]}…`",
        f"- {manifest['training_data']['rows_used']} campaigns used, "
        f"{manifest['training_data']['rows_dropped']} dropped as invalid",
        f"- split {manifest['split']['rule']}: train {manifest['split']['train']}, "
        f"validation {manifest['split']['validation']}, test {manifest['split']['test']}",
        "",
        "## Test metrics",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key in ("n", "failure_rate", "roc_auc", "pr_auc", "brier", "log_loss", "ece",
                "bayes_roc_auc", "bayes_brier", "auc_gap_to_bayes", "brier_gap_to_bayes"):
        if key in m:
            lines.append(f"| {key} | {_fmt(m[key])} |")
    lines += ["", "Validation log loss per candidate family:", ""]
    for name, loss in sorted(m["validation_log_loss"].items(), key=lambda kv: kv[1]):
        lines.append(f"- {name}: {loss:.5f}")
    lines += ["", "## Risk bands", "",
              f"low below {bands[0]:.2f} ≤ medium < {bands[1]:.2f} ≤ high "
              f"({manifest['bands']['rule']}).", "",
              "## Calibration (test split)", "",
              "| predicted | count | mean predicted | observed |", "|---|---|---|---|"]
    for r in m["calibration_table"]:
        lines.append(f"| {r['bin']} | {r['count']} | {_fmt(r['mean_predicted'])} | "
                     f"{_fmt(r['observed_rate'])} |")
    monotone = [f"{f.name} ({'+' if f.monotone > 0 else '−'})" for f in FACTORS if f.monotone]
    lines += ["", "## Factors", "",
              "Contributions are exact: base + Σ contributions = the calibrated log-odds. "
              "Interaction terms are attributed to their driver column.",
              f"Monotone by construction: {', '.join(monotone)}.", "",
              "![ROC](roc.png) ![Calibration](calibration.png)", "",
              "![Factor effects](factors.png)", ""]
    (directory / "model_card.md").write_text("\n".join(lines))
