import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from riskmodel import FACTORS, FAMILIES, SCHEMA, validate_campaigns
from training.synthetic import (
    FIXED_DATE_TYPES,
    World,
    _plans,
    factor_shares,
    factor_terms,
    family_terms,
    generate,
    reason_split,
)


def test_same_seed_same_rows_different_seed_different_rows():
    a, b, c = generate(300, seed=5), generate(300, seed=5), generate(300, seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a.drop(columns="campaign_id").equals(c.drop(columns="campaign_id"))


def test_generated_rows_meet_the_contract(history_df):
    v = validate_campaigns(history_df, outcomes=True)
    assert v.errors == []
    assert set(v.ignored_columns) == {"true_failure_probability"} | {
        f"true_{f}" for f in FAMILIES} | {f"true_factor_{f.name}" for f in FACTORS}


def test_optional_values_are_sometimes_empty_required_never(history_df):
    for col in SCHEMA.columns:
        share = history_df[col.name].isna().mean()
        if col.required:
            assert share == 0, col.name
        else:
            assert 0 < share < 0.6, col.name


@pytest.mark.slow
def test_failure_reasons_reproduce_the_source_split_on_50k_rows():
    split = reason_split(generate(50_000, seed=3))
    assert abs(split["goal_misalignment"] - 0.47) <= 0.03
    assert abs(split["material_delay"] - 0.31) <= 0.03
    other = split["budget_shortfall"] + split["attribution_gap"] + split["other"]
    assert abs(other - 0.22) <= 0.03


def test_reasons_only_on_failures(history_df):
    failed = history_df["failed"].astype(bool)
    assert history_df.loc[~failed, "failure_reason"].isna().all()
    assert history_df.loc[failed, "failure_reason"].notna().all()


def test_traits_are_correlated_as_documented(history_df):
    df = history_df.dropna(subset=["annual_sales_usd", "monthly_ad_spend_usd",
                                   "bsr_top100_products", "attribution_enabled"])
    big = df["annual_sales_usd"] > df["annual_sales_usd"].median()
    assert df.loc[big, "monthly_ad_spend_usd"].median() > \
        1.5 * df.loc[~big, "monthly_ad_spend_usd"].median()
    assert df.loc[big, "bsr_top100_products"].mean() > df.loc[~big, "bsr_top100_products"].mean()
    assert df.loc[big, "attribution_enabled"].astype(float).mean() > \
        df.loc[~big, "attribution_enabled"].astype(float).mean()
    video = history_df["custom_video_required"].astype("boolean")
    late = history_df["material_delay_days"]
    assert late[video == True].mean() > late[video == False].mean() + 3  # noqa: E712


def test_truth_is_consistent(history_df):
    p = history_df["true_failure_probability"]
    assert ((p > 0) & (p < 1)).all()
    # the family shares are centred on the population: their means are near zero
    for fam in FAMILIES:
        assert abs(history_df[f"true_{fam}"].mean()) < 0.1, fam
    # observed failure rate matches the mean true probability
    assert abs(history_df["failed"].mean() - p.mean()) < 0.03


def test_late_materials_hurt_fixed_date_placements_more():
    n = 2
    plans = {c.name: np.zeros(n) for c in SCHEMA.feature_columns}
    plans.update(campaign_type=np.array([FIXED_DATE_TYPES[0], "search_top_banner"]),
                 category=np.array(["home", "home"]), marketplace=np.array(["US", "US"]),
                 annual_sales_usd=np.full(n, 1.5e6), resource_value_usd=np.full(n, 1e4),
                 committed_ad_budget_usd=np.full(n, 3e3),
                 brand_avg_past_delay_days=np.full(n, np.nan))
    on_time = family_terms(dict(plans, material_delay_days=np.zeros(n)), World())["delivery"]
    late = family_terms(dict(plans, material_delay_days=np.full(n, 10.0)), World())["delivery"]
    harm = late - on_time
    assert harm[0] > 1.5 * harm[1] > 0


def test_factor_terms_add_up_to_the_family_terms():
    w = World()
    p = _plans(2000, np.random.default_rng(3))
    mains, pairs = factor_terms(p, w)
    assert set(mains) | {n for pair in pairs for n in pair[:2]} == {f.name for f in FACTORS}
    total = sum(mains.values()) + sum(u * v for _, _, u, v in pairs)
    np.testing.assert_allclose(total, sum(family_terms(p, w).values()), atol=1e-12)


def test_factor_truth_adds_up_to_the_centred_true_log_odds(history_df):
    shares = history_df[[f"true_factor_{f.name}" for f in FACTORS]].sum(axis=1)
    families = history_df[[f"true_{f}" for f in FAMILIES]].sum(axis=1)
    np.testing.assert_allclose(shares, families, atol=1e-9)


def test_factor_truth_is_the_brute_force_interventional_shapley_value():
    """Every coalition of the four factors of the two interactions, 300 plans as the
    background, the true log-odds from ``family_terms`` (the generator's own formula). The
    true log-odds is a sum of terms over {goal, MOU, delay, placement} and terms over the
    other factors, so these four factors' Shapley values are those of this four-player
    game; a main-effect factor's value is its term minus its mean."""
    w = World()
    background = _plans(300, np.random.default_rng(8))
    x = _plans(10, np.random.default_rng(9))
    players = ["goal_alignment_score", "mou_signed", "material_delay_days", "campaign_type"]
    nb = 300

    def value(s):
        hybrid = {k: np.tile(b, len(x[k])) for k, b in background.items()}
        for k in s:
            hybrid[k] = np.repeat(x[k], nb)
        logit = sum(family_terms(hybrid, w).values())
        return logit.reshape(10, nb).mean(axis=1)

    expected = {}
    for k in players:
        others = [p for p in players if p != k]
        total = 0.0
        for size in range(len(players)):
            weight = (math.factorial(size) * math.factorial(len(players) - size - 1)
                      / math.factorial(len(players)))
            for s in combinations(others, size):
                total = total + weight * (value(set(s) | {k}) - value(set(s)))
        expected[k] = total
    got = factor_shares(x, w, population=background)
    for k in players:
        np.testing.assert_allclose(got[k], expected[k], atol=1e-9, err_msg=k)
    mains, _ = factor_terms(x, w)
    bg_mains, _ = factor_terms(background, w)
    np.testing.assert_allclose(got["weekly_sync"], mains["weekly_sync"]
                               - bg_mains["weekly_sync"].mean(), atol=1e-12)


def test_without_an_mou_misaligned_goals_weigh_more_in_the_truth():
    w = World()
    p = _plans(2, np.random.default_rng(1))
    p["goal_alignment_score"] = np.array([0.5, 0.5])
    p["mou_signed"] = np.array([False, True])
    shares = factor_shares(p, w)
    assert shares["goal_alignment_score"][0] > shares["goal_alignment_score"][1] > 0


def test_no_shift_gives_the_same_rows():
    from training.synthetic import Shift

    a = generate(300, seed=5)
    b = generate(300, seed=5, shift=Shift())
    pd.testing.assert_frame_equal(a, b)


def test_a_shift_moves_what_it_names_and_nothing_else():
    from training.synthetic import Shift

    base = generate(20_000, seed=8, with_truth=True)
    moved = generate(20_000, seed=8, with_truth=True,
                     shift=Shift(delay_days=10, budget_ratio_factor=0.5,
                                 category_share={"pet_smart_devices": 1.0}))
    late = moved["material_delay_days"] - base["material_delay_days"]
    assert late.median() == 10
    ratio = (moved["committed_ad_budget_usd"] / base["committed_ad_budget_usd"]).dropna()
    assert ratio[base["committed_ad_budget_usd"] > 100].between(0.49, 0.51).all()
    assert set(moved["category"].dropna()) == {"pet_smart_devices"}
    for same in ("goal_alignment_score", "marketplace", "campaign_type", "annual_sales_usd"):
        pd.testing.assert_series_equal(base[same], moved[same])
    # later materials and smaller budgets really are riskier in the true process
    assert moved["true_failure_probability"].mean() > base["true_failure_probability"].mean() + 0.1


def test_a_base_rate_shift_changes_failures_not_plans():
    from training.synthetic import Shift

    base = generate(20_000, seed=9, with_truth=True)
    moved = generate(20_000, seed=9, with_truth=True, shift=Shift(base_logit=1.0))
    plan = [c.name for c in SCHEMA.feature_columns]
    pd.testing.assert_frame_equal(base[plan], moved[plan])
    assert moved["failed"].mean() > base["failed"].mean() + 0.1


@pytest.mark.parametrize("bad, message", [
    ({"budget_ratio_factor": 0}, "budget_ratio_factor must be > 0"),
    ({"category_share": {"pets": 1}}, "unknown categories"),
    ({"category_share": {"home": 0}}, "positive sum"),
], ids=["zero-budget", "unknown-category", "no-shares"])
def test_a_bad_shift_is_refused(bad, message):
    from training.synthetic import Shift

    with pytest.raises(ValueError, match=message):
        Shift(**bad)


def test_the_generate_command_takes_shift_options(runner, tmp_path):
    from commands.main import main

    out = tmp_path / "shifted.csv"
    done = runner.invoke(main, ["generate", "--rows", "200", "--out", str(out),
                                "--shift-category-mix", "beauty=1", "--start", "2026-11-01",
                                "--end", "2026-11-30", "--id-prefix", "S"])
    assert done.exit_code == 0, done.output
    df = pd.read_csv(out)
    assert set(df["category"].dropna()) == {"beauty"}
    assert df["completed_on"].between("2026-11-01", "2026-11-30").all()
    assert df["campaign_id"].str.startswith("S").all()
    bad = runner.invoke(main, ["generate", "--rows", "5", "--out", str(out),
                               "--shift-category-mix", "beauty"])
    assert bad.exit_code == 2 and "CATEGORY=SHARE" in bad.output
