"""Plans in Excel workbooks: the template, reading one back, the scored workbook, and
``riskmodel score`` with .xlsx in and out."""

import pandas as pd
import pytest
from openpyxl import load_workbook

from batch import read_plan_workbook, template_workbook
from batch.workbook import guidance
from commands.main import main
from riskmodel import SCHEMA, label


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("xlsx") / "template.xlsx"
    template_workbook(path)
    return path


def _fill(template, df, path, bad=None):
    """The template filled with ``df`` from row 3, as a planner would; ``bad`` puts
    ``value`` in (sheet row, column)."""
    wb = load_workbook(template)
    ws = wb["Campaigns"]
    for i, rec in enumerate(df.astype(object).where(df.notna(), None).to_dict("records")):
        for j, name in enumerate(SCHEMA.names, 1):
            ws.cell(3 + i, j, rec[name])
    for (row, column), value in (bad or {}).items():
        ws.cell(row, SCHEMA.names.index(column) + 1, value)
    wb.save(path)
    return path


def test_the_template_follows_the_contract(template):
    wb = load_workbook(template)
    ws = wb["Campaigns"]
    assert [c.value for c in ws[1]] == list(SCHEMA.names)
    assert [c.value for c in ws[2]] == [guidance(n) for n in SCHEMA.names]
    lists = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    for j, c in enumerate(SCHEMA.columns):
        letter = ws.cell(1, j + 1).column_letter
        dv = lists.get(f"{letter}3:{letter}1002")
        if c.kind in ("category", "boolean"):
            assert dv is not None and dv.type == "list", c.name
            listed = [r[j].value for r in wb["Lists"].iter_rows(min_row=2) if r[j].value]
            assert listed == list(c.categories or ("true", "false"))
        elif c.kind in ("number", "integer") and c.minimum is not None:
            assert dv is not None and dv.type in ("decimal", "whole"), c.name
    fields = wb["Fields"]
    assert [r[1].value for r in fields.iter_rows(min_row=2)] == [label(n) for n in SCHEMA.names]


def test_a_filled_template_reads_as_its_csv(template, history_df, tmp_path):
    df = history_df[list(SCHEMA.names)].head(20)
    plan = read_plan_workbook(_fill(template, df, tmp_path / "p.xlsx"))
    assert plan.sheet == "Campaigns" and plan.rows == list(range(3, 23))
    assert list(plan.frame["campaign_id"]) == list(df["campaign_id"])
    assert set(plan.frame["mou_signed"]) <= {"true", "false", ""}


def test_score_a_workbook_reports_cells_by_sheet_row_and_column(runner, trained, template,
                                                                history_df, tmp_path):
    root, _ = trained
    df = history_df[list(SCHEMA.names)].head(40)
    src = _fill(template, df, tmp_path / "q3.xlsx",
                bad={(9, "goal_alignment_score"): 1.7, (15, "marketplace"): "Atlantis"})
    csv_out = tmp_path / "from-csv.csv"
    df.to_csv(tmp_path / "q3.csv", index=False)
    assert runner.invoke(main, ["score", "--artifacts", str(root), "--in",
                                str(tmp_path / "q3.csv"), "--out", str(csv_out)]).exit_code == 0
    res = runner.invoke(main, ["score", "--artifacts", str(root), "--in", str(src), "--out",
                               str(tmp_path / "q3.scored.xlsx")])
    assert res.exit_code == 3, res.output
    rejects = pd.read_csv(tmp_path / "q3.scored.rejects.csv", dtype=str, keep_default_na=False)
    assert list(zip(rejects["sheet"], rejects["sheet_row"], rejects["column"],
                    strict=True)) == [("Campaigns", "9", "goal_alignment_score"),
                                      ("Campaigns", "15", "marketplace")]
    assert "(sheet 'Campaigns', row 9)" in rejects["reason"][0]
    wb = load_workbook(tmp_path / "q3.scored.xlsx")
    assert wb.sheetnames == ["Campaigns", "Rejected rows"]
    ws = wb["Campaigns"]
    head = [c.value for c in ws[1]]
    assert head[:6] == ["Campaign", "Failure risk", "Band", "Top factors", "Actions",
                        "Readiness warnings"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 38
    risks = [r[1] for r in rows]
    assert risks == sorted(risks, reverse=True)  # riskiest first
    fills = {r[2].value: r[2].fill.fgColor.rgb for r in ws.iter_rows(min_row=2)}
    assert fills.get("high", "").endswith("FFC7CE") and fills.get("low", "").endswith("C6EFCE")
    assert any("Creative materials late by (days)" in (r[3] or "") for r in rows)
    # the same numbers as the CSV path
    by_csv = pd.read_csv(csv_out).set_index("campaign_id")["failure_risk"]
    for r in rows:
        assert r[1] == pytest.approx(by_csv[r[0]], abs=1e-12)
    bad = list(wb["Rejected rows"].iter_rows(min_row=2, values_only=True))
    assert [(b[0], b[1]) for b in bad] == [("Campaigns", 9), ("Campaigns", 15)]


def test_a_workbook_without_a_plan_is_a_clear_error(runner, trained, tmp_path):
    from openpyxl import Workbook

    root, _ = trained
    wb = Workbook()
    wb.active.append(["name", "budget"])
    wb.save(tmp_path / "other.xlsx")
    res = runner.invoke(main, ["score", "--artifacts", str(root), "--in",
                               str(tmp_path / "other.xlsx"), "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 1 and "no sheet has a campaign_id column" in res.output
    assert not (tmp_path / "o.csv").exists()


def test_a_scored_workbook_holds_text_not_formulas(scorer, plans_csv, tmp_path):
    """Campaign ids and rejected values starting with = are text cells in the workbook,
    as they were read (not the quoted form of the CSV files)."""
    import zipfile

    from batch import score_file, write_scored_workbook

    df = pd.read_csv(plans_csv, dtype=str, keep_default_na=False).head(40)
    df.loc[0, "campaign_id"] = "=1+1"
    df.loc[1, "marketplace"] = "=2+2"  # rejected
    src = tmp_path / "plans.csv"
    df.to_csv(src, index=False)
    summary = score_file(src, tmp_path / "o.csv", scorer, workers=1, progress=False)
    write_scored_workbook(tmp_path / "o.csv", summary.rejects_path, tmp_path / "o.xlsx")
    with zipfile.ZipFile(tmp_path / "o.xlsx") as z:
        sheets = [z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert not any(b"<f>" in s for s in sheets)
    wb = load_workbook(tmp_path / "o.xlsx")
    ids = [c.value for c in wb["Campaigns"]["A"]]
    assert "=1+1" in ids and "'=1+1" not in ids
    assert "=2+2" in [c.value for c in wb["Rejected rows"]["F"]]
