"""The quarter view's figures, read back from the files a batch run writes; and the labels
that make them readable."""

import pandas as pd
import pytest

from batch import score_file, summarise_quarter
from riskmodel import (
    FACTORS,
    FAMILIES,
    FAMILY_LABELS,
    LABELS,
    SCHEMA,
    WARNING_CODES,
    WARNING_LABELS,
)


def test_every_column_factor_family_and_warning_has_a_label():
    names = set(SCHEMA.names) | {c.name for c in SCHEMA.outcome_columns} | \
        {f.name for f in FACTORS}
    assert names <= set(LABELS)
    assert set(FAMILIES) == set(FAMILY_LABELS) and set(WARNING_CODES) == set(WARNING_LABELS)
    assert len(set(LABELS.values())) == len(LABELS)  # no two read the same


@pytest.fixture(scope="module")
def quarter_run(tmp_path_factory, history_df, scorer):
    d = tmp_path_factory.mktemp("quarter")
    df = history_df[list(SCHEMA.names)].head(500).copy()
    df.loc[[2, 40], "duration_days"] = 0
    df.to_csv(d / "plan.csv", index=False)
    summary = score_file(d / "plan.csv", d / "scored.csv", scorer, workers=1, progress=False)
    q = summarise_quarter(d / "scored.csv", summary.rejects_path, bands=scorer.bands,
                          table_rows=100, chunk_rows=128)  # several chunks
    return pd.read_csv(d / "scored.csv", dtype=str, keep_default_na=False), q


def test_counts_bands_and_expected_failures(quarter_run):
    scored, q = quarter_run
    risk = pd.to_numeric(scored["failure_risk"])
    assert q.scored == 498 and q.rejected_rows == 2 and q.problems == 2 and q.total == 500
    assert q.expected_failures == pytest.approx(risk.sum(), abs=1e-9)
    assert q.bands == scored["risk_band"].value_counts().to_dict() | {
        b: 0 for b in ("low", "medium", "high") if b not in set(scored["risk_band"])}
    assert sum(q.histogram) == 498
    assert [r["row"] for r in q.rejects] == ["3", "41"]


def test_the_table_keeps_the_riskiest(quarter_run):
    scored, q = quarter_run
    risk = pd.to_numeric(scored["failure_risk"]).sort_values(ascending=False)
    assert [c["risk"] for c in q.campaigns] == pytest.approx(risk.head(100).tolist())


def test_the_action_list_sums_the_what_ifs(quarter_run):
    scored, q = quarter_run
    risk = pd.to_numeric(scored["failure_risk"])
    expect: dict = {}
    for p in (1, 2, 3):
        fixed = pd.to_numeric(scored[f"factor_{p}_risk_if_fixed"].replace("", None))
        for name, gain in zip(scored[f"factor_{p}"], risk - fixed, strict=True):
            if gain == gain and gain > 0:
                n, total = expect.get(name, (0, 0.0))
                expect[name] = (n + 1, total + gain)
    got = {a.factor: (a.campaigns, a.avoided) for a in q.actions}
    assert got.keys() == expect.keys()
    for name, (n, total) in expect.items():
        assert got[name][0] == n and got[name][1] == pytest.approx(total, abs=1e-9)
    assert [a.avoided for a in q.actions] == sorted((a.avoided for a in q.actions),
                                                    reverse=True)
    top = q.actions[0]
    assert top.mitigation and top.target and all(e[0] > 0 for e in top.examples)
    assert top.examples == sorted(top.examples, reverse=True)


def test_the_quarter_reads_campaign_ids_as_scored_not_as_quoted(tmp_path, history_df, scorer):
    """The scored CSV and the rejects quote formula cells for spreadsheets; the quarter
    view (and so the report) shows the values as they were read."""
    df = history_df[list(SCHEMA.names)].head(30).copy()
    df["campaign_id"] = [f"=X{i}" for i in range(30)]
    df.loc[3, "duration_days"] = 0
    df.to_csv(tmp_path / "plan.csv", index=False)
    summary = score_file(tmp_path / "plan.csv", tmp_path / "scored.csv", scorer, workers=1,
                         progress=False)
    q = summarise_quarter(tmp_path / "scored.csv", summary.rejects_path, table_rows=100)
    assert {c["campaign_id"] for c in q.campaigns} == {f"=X{i}" for i in range(30) if i != 3}
    assert [r["campaign_id"] for r in q.rejects] == ["=X3"]


def test_out_of_depth_is_counted_and_shown(quarter_run, scorer):
    from service.workbench.render import depth_words

    scored, q = quarter_run
    cells = [c for c in scored["out_of_depth"] if c]
    expected: dict = {}
    for c in cells:
        for entry in c.split(";"):
            expected[entry] = expected.get(entry, 0) + 1
    assert q.out_of_depth == expected
    for c in q.campaigns:
        row = scored.loc[scored["campaign_id"] == c["campaign_id"], "out_of_depth"].iloc[0]
        assert c["out_of_depth"] == (row.split(";") if row else [])
    assert depth_words("material_delay_days:beyond_training_range") == \
        "Creative materials late by (days): beyond the training range"
