"""Plans in Excel workbooks (.xlsx): read one, write the scored result as a readable
workbook, and make the template a planner fills in.

Reading goes through pandas with openpyxl; every cell becomes text, exactly as a CSV cell
would be, so a workbook is validated by the same rules as the CSV path. The rows keep their
place in the sheet, so a rejected cell is reported by sheet, row and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from batch.cells import raw_text, safe_text
from riskmodel import (
    LABELS,
    SCHEMA,
    WARNING_LABELS,
    DataError,
    Scorer,
    family_label,
    label,
    warning_label,
)

SUFFIX = ".xlsx"
PLAN_SHEET = "Campaigns"
TEMPLATE_ROWS = 1000  # rows of the template that carry the drop-downs
BAND_FILLS = {"high": ("FFC7CE", "9C0006"), "medium": ("FFEB9C", "7A5B00"),
              "low": ("C6EFCE", "006100")}  # Excel's bad / neutral / good: fill, text


def is_workbook(path: str | Path) -> bool:
    return str(path) != "-" and Path(path).suffix.lower() == SUFFIX


def guidance(name: str) -> str:
    """The template's guidance for one column: what it is and what it takes."""
    c = SCHEMA[name]
    need = "Required." if c.required else "Leave empty if unknown."
    return f"{label(name)}: {c.allowed()}. {need}"


@dataclass
class PlanSheet:
    """A plan read from a workbook: its cells as text, the sheet, and the sheet row of
    each campaign (1-based, as Excel numbers them)."""

    frame: pd.DataFrame
    sheet: str
    rows: list[int]


def _text(v: object) -> str:
    """A cell as the text a CSV export would hold."""
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)
    if isinstance(v, (dt.datetime, pd.Timestamp)):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


_BY_LABEL = {v.lower(): k for k, v in LABELS.items()}


def _column_name(cell: object) -> str:
    """A header cell as a contract name: the name itself, or its human label."""
    text = _text(cell).strip()
    return _BY_LABEL.get(text.lower(), text)


def read_plan_workbook(path: str | Path) -> PlanSheet:
    """The plan in ``path``: the first sheet with a ``campaign_id`` column in its first
    rows (the template's own guidance row is skipped, and so are empty rows)."""
    path = Path(path)
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object,
                               engine="openpyxl")
    except Exception as e:  # noqa: BLE001  not a workbook, or a damaged one
        raise DataError(f"{path} could not be read as an Excel workbook: {e}") from None
    for sheet, grid in sheets.items():
        for top in range(min(len(grid), 10)):
            header = [_column_name(v) for v in grid.iloc[top].tolist()]
            if SCHEMA.id_column in header:
                return _plan(path, str(sheet), grid, top, header)
    raise DataError(f"{path}: no sheet has a {SCHEMA.id_column} column in its first rows "
                    f"(sheets: {', '.join(map(str, sheets)) or 'none'})")


def _plan(path: Path, sheet: str, grid: pd.DataFrame, top: int, header: list[str]) -> PlanSheet:
    keep = [i for i, name in enumerate(header) if name]
    names = [header[i] for i in keep]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataError(f"{path}, sheet {sheet!r}, has duplicate column names: "
                        f"{', '.join(dup)}")
    id_at = names.index(SCHEMA.id_column)
    hint = guidance(SCHEMA.id_column)
    records, rows = [], []
    for i in range(top + 1, len(grid)):
        cells = [_text(grid.iat[i, j]) for j in keep]
        if not any(c.strip() for c in cells) or cells[id_at] == hint:
            continue  # an empty row, or the template's guidance
        records.append(cells)
        rows.append(i + 1)  # pandas' row i is the sheet's row i + 1
    return PlanSheet(pd.DataFrame(records, columns=names, dtype=object), sheet, rows)


def plan_as_csv(path: str | Path, dst: str | Path) -> PlanSheet:
    """Write the workbook's plan to ``dst`` as CSV (every cell as text)."""
    plan = read_plan_workbook(path)
    if plan.frame.empty:
        raise DataError(f"{path}, sheet {plan.sheet!r}, has a header but no campaigns")
    plan.frame.to_csv(dst, index=False, quoting=csv.QUOTE_MINIMAL)
    return plan


def annotate_rejects(path: Path, plan: PlanSheet) -> None:
    """Give each rejected cell its sheet and sheet row (the rejects file's ``row`` stays
    the campaign's place in the plan, as for CSV), and say them in its reason."""
    with open(path, newline="", encoding="utf-8") as f:
        recs = list(csv.DictReader(f))
    tmp = path.with_name(f".{path.name}.annotate")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["row", "sheet", "sheet_row", "campaign_id", "column", "value", "reason"])
        for r in recs:
            n = r["row"]
            sheet_row = plan.rows[int(n) - 1] if n.isdigit() else ""
            reason = r["reason"]
            if sheet_row:
                reason = reason.replace(f" (row {n})",
                                        f" (sheet {plan.sheet!r}, row {sheet_row})", 1)
            w.writerow([n, safe_text(plan.sheet), sheet_row, r["campaign_id"], r["column"],
                        r["value"], reason])
    os.replace(tmp, path)


def score_via_workbook(score_file, src, dst, scorer: Scorer, *, rejects=None, **kw):
    """``score_file`` for a workbook in or out: the workbook's plan is scored as the CSV it
    reads as, and a workbook output is written from the scored rows once they are all
    scored (under a temporary name, renamed into place when complete)."""
    dst_path = Path(dst)
    into = None if str(dst) == "-" else dst_path.parent
    if into is not None:
        into.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".riskmodel-xlsx-", dir=into))
    try:
        plan = None
        if is_workbook(src):
            plan = plan_as_csv(src, tmp / "plan.csv")
            src = tmp / "plan.csv"
        out = dst
        if is_workbook(dst):
            out = tmp / "scored.parquet"
            if rejects is None:
                rejects = dst_path.with_name(dst_path.stem + ".rejects.csv")
        summary = score_file(src, out, scorer, rejects=rejects, **kw)
        if plan is not None and summary.rejects_path is not None:
            annotate_rejects(Path(summary.rejects_path), plan)
        if is_workbook(dst):
            part = tmp / "scored.xlsx"
            write_scored_workbook(out, summary.rejects_path, part)
            os.replace(part, dst_path)
        return summary
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- writing


def _styles():
    from openpyxl.styles import Alignment, Font, PatternFill

    return {"head": Font(bold=True, color="FFFFFF"),
            "head_fill": PatternFill("solid", fgColor="1F3A5F"),
            "wrap": Alignment(wrap_text=True, vertical="top"),
            "top": Alignment(vertical="top"),
            "guide": Font(italic=True, color="444444"),
            "guide_fill": PatternFill("solid", fgColor="EEF2F7"),
            "Font": Font, "PatternFill": PatternFill}


def _header(ws, titles: list[str], widths: list[int], st: dict) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    cells = []
    for t in titles:
        c = WriteOnlyCell(ws, value=t)
        c.font, c.fill, c.alignment = st["head"], st["head_fill"], st["wrap"]
        cells.append(c)
    ws.append(cells)


def _row(ws, values: list) -> list:
    """A row to append: text that starts with ``=`` stays text (openpyxl would store it
    as a formula, which the spreadsheet would then run)."""
    from openpyxl.cell import WriteOnlyCell

    out = []
    for v in values:
        if isinstance(v, str) and v.startswith("="):
            v = WriteOnlyCell(ws, value=v)
            v.data_type = "s"
        out.append(v)
    return out


def _factor_words(r: dict, k: int) -> tuple[str, str]:
    """A scored row's top factors and actions as lines of words."""
    factors, actions = [], []
    for p in range(1, k + 1):
        name = r.get(f"factor_{p}")
        if not name:
            continue
        if r.get(f"factor_{p}_direction") == "raises":
            reason = r.get(f"factor_{p}_reason") or ""
            factors.append(f"{label(name)}: {reason}" if reason else label(name))
        else:
            factors.append(f"{label(name)} (lowers the risk)")
        fixed = r.get(f"factor_{p}_risk_if_fixed")
        mitigation = r.get(f"factor_{p}_mitigation")
        if mitigation and fixed not in (None, "") and fixed == fixed:
            actions.append(f"{mitigation} (risk {float(fixed):.0%} if done)")
    return "\n".join(factors), "\n".join(actions)


def _warning_words(cell: object) -> str:
    codes = [c for c in str(cell or "").split(";") if c]
    return "; ".join(warning_label(c) if c in WARNING_LABELS else c for c in codes)


def write_scored_workbook(scored: str | Path, rejects: str | Path | None, dst: str | Path,
                          actions: list | None = None) -> None:
    """A workbook a planner reads: the campaigns (riskiest first, bands colour-coded,
    factors and actions in words, then the plan as given), the quarter's actions when
    given (:attr:`batch.quarter.Quarter.actions`), and the rejected rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    st = _styles()
    if Path(scored).suffix.lower() == ".parquet":
        df = pd.read_parquet(scored)
    else:  # the cells as scored, not as made safe for a spreadsheet (batch/cells.py)
        df = pd.read_csv(scored, dtype=str, keep_default_na=False).map(raw_text)
        df.columns = [raw_text(c) for c in df.columns]
    k = 0
    while f"factor_{k + 1}" in df.columns:
        k += 1
    df = df.assign(failure_risk=pd.to_numeric(df["failure_risk"], errors="coerce"))
    df = df.sort_values("failure_risk", ascending=False, kind="stable")
    plan_cols = [c for c in SCHEMA.names if c in df.columns and c != SCHEMA.id_column]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Campaigns")
    ws.freeze_panes = "B2"
    titles = ["Campaign", "Failure risk", "Band", "Top factors", "Actions",
              "Readiness warnings"] + [label(c) for c in plan_cols] + ["Model version"]
    _header(ws, titles, [22, 11, 9, 60, 70, 40] + [16] * len(plan_cols) + [26], st)
    fills = {b: (st["PatternFill"]("solid", fgColor=f), st["Font"](bold=True, color=t))
             for b, (f, t) in BAND_FILLS.items()}
    for r in df.astype(object).where(df.notna(), None).to_dict("records"):
        factors, todo = _factor_words(r, k)
        risk = WriteOnlyCell(ws, value=r["failure_risk"])
        risk.number_format = "0%"
        risk.alignment = st["top"]
        band = WriteOnlyCell(ws, value=r["risk_band"])
        band.fill, band.font = fills.get(r["risk_band"], (None, None))
        band.alignment = st["top"]
        words = []
        for text in (factors, todo, _warning_words(r.get("warnings"))):
            c = WriteOnlyCell(ws, value=text)
            c.alignment = st["wrap"]
            words.append(c)
        ws.append(_row(ws, [r["campaign_id"], risk, band, *words,
                            *[_plain(r.get(c)) for c in plan_cols], r.get("model_version")]))
    ws.auto_filter.ref = f"A1:F{len(df) + 1}"
    if actions:
        wa = wb.create_sheet("Actions")
        _header(wa, ["Action", "Factor", "Campaigns", "Expected failures avoided",
                     "Where it helps most"], [70, 30, 11, 14, 60], st)
        for a in actions:
            where = ", ".join(f"{e[1]} ({e[2]:.0%} → {e[3]:.0%})" for e in a.examples[:5])
            avoided = WriteOnlyCell(wa, value=round(a.avoided, 2))
            mitigation = WriteOnlyCell(wa, value=a.mitigation)
            mitigation.alignment = st["wrap"]
            wa.append(_row(wa, [mitigation, label(a.factor), a.campaigns, avoided, where]))
    wr = wb.create_sheet("Rejected rows")
    _header(wr, ["Sheet", "Sheet row", "Plan row", "Campaign", "Column", "Value", "Problem"],
            [14, 10, 10, 22, 30, 18, 90], st)
    if rejects is not None and Path(rejects).is_file():
        with open(rejects, newline="", encoding="utf-8") as f:
            for rec in csv.DictReader(f):
                rec = {k: raw_text(v or "") for k, v in rec.items()}
                col = rec.get("column", "")
                wr.append(_row(wr, [rec.get("sheet", ""), _plain(rec.get("sheet_row", "")),
                                    _plain(rec.get("row", "")), rec.get("campaign_id", ""),
                                    f"{label(col)} ({col})" if col in LABELS else col,
                                    rec.get("value", ""), rec.get("reason", "")]))
    wb.save(dst)


def _plain(v: object) -> object:
    """A cell value for the workbook: numbers as numbers where the text is one."""
    if v is None:
        return None
    if isinstance(v, str):
        try:
            x = float(v)
        except ValueError:
            return v
        return int(x) if x.is_integer() and abs(x) < 2**53 else x
    return v


def template_workbook(dst: str | Path) -> None:
    """The plan template: the contract's columns in order, a row of guidance under the
    header, drop-downs for every column with allowed values (and yes/no columns), range
    checks for numbers, and a sheet describing every field."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter, quote_sheetname
    from openpyxl.worksheet.datavalidation import DataValidation

    st = _styles()
    wb = Workbook()
    ws = wb.active
    ws.title = PLAN_SHEET
    lists = wb.create_sheet("Lists")
    last = TEMPLATE_ROWS + 2
    for i, c in enumerate(SCHEMA.columns, 1):
        letter = get_column_letter(i)
        head = ws.cell(1, i, c.name)
        head.font, head.fill = st["head"], st["head_fill"]
        guide = ws.cell(2, i, guidance(c.name))
        guide.font, guide.fill, guide.alignment = st["guide"], st["guide_fill"], st["wrap"]
        ws.column_dimensions[letter].width = max(16, min(34, len(c.name) + 4))
        cells = f"{letter}3:{letter}{last}"
        dv = None
        if c.kind in ("category", "boolean"):
            values = c.categories if c.kind == "category" else ("true", "false")
            lists.cell(1, i, c.name)
            for j, v in enumerate(values, 2):
                lists.cell(j, i, v)
            ref = f"{quote_sheetname(lists.title)}!${letter}$2:${letter}${len(values) + 1}"
            dv = DataValidation(type="list", formula1=ref, allow_blank=not c.required)
        elif c.kind in ("number", "integer") and c.minimum is not None:
            kind = "whole" if c.kind == "integer" else "decimal"
            if c.maximum is not None:
                dv = DataValidation(type=kind, operator="between", formula1=str(c.minimum),
                                    formula2=str(c.maximum), allow_blank=not c.required)
            else:
                op = "greaterThan" if c.exclusive_minimum else "greaterThanOrEqual"
                dv = DataValidation(type=kind, operator=op, formula1=str(c.minimum),
                                    allow_blank=not c.required)
        if dv is not None:
            dv.error = f"{c.name} must be {c.allowed()}."
            dv.errorTitle = label(c.name)
            dv.prompt = guidance(c.name)
            dv.showErrorMessage = dv.showInputMessage = True
            ws.add_data_validation(dv)
            dv.add(cells)
    ws.row_dimensions[2].height = 60
    ws.freeze_panes = "B3"
    lists.sheet_state = "hidden"
    fields = wb.create_sheet("Fields")
    heads = ["Column", "Label", "Family", "Type", "Required", "Valid values", "Meaning"]
    for i, (t, w) in enumerate(zip(heads, [28, 34, 24, 10, 9, 50, 70], strict=True), 1):
        cell = fields.cell(1, i, t)
        cell.font, cell.fill = st["head"], st["head_fill"]
        fields.column_dimensions[get_column_letter(i)].width = w
    for r, c in enumerate(SCHEMA.columns, 2):
        row = [c.name, label(c.name), family_label(c.family) if c.family else "",
                  c.kind, "yes" if c.required else "", c.allowed(), c.description]
        for i, v in enumerate(row, 1):
            fields.cell(r, i, v).alignment = st["wrap"]
    fields.freeze_panes = "A2"
    wb.save(dst)

