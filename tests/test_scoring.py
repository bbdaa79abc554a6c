import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskmodel import SCHEMA, CampaignScore, SchemaError
from riskmodel.advice import ADVICE
from riskmodel.features import FACTORS
from training.faithfulness import faithfulness

OPTIONAL = [c.name for c in SCHEMA.columns if not c.required]


@st.composite
def campaigns(draw, plans):
    rec = dict(draw(st.sampled_from(plans)))
    for name in draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=8)):
        rec[name] = None
    rec["material_delay_days"] = draw(st.floats(-60, 180))
    rec["goal_alignment_score"] = draw(st.floats(0, 1))
    return rec


def test_exact_and_equal_to_predict_proba(scorer, plans):
    @settings(max_examples=150, deadline=None)
    @given(st.lists(campaigns(plans), min_size=1, max_size=5))
    def check(recs):
        results = scorer.score(recs, top_k=3)
        reference = scorer.predict_proba(recs)[:, 1]
        singles = [scorer.score(r)[0] for r in recs]
        for r, s, p in zip(results, singles, reference, strict=True):
            total = r.base_value + sum(r.contributions.values())
            assert total == pytest.approx(r.log_odds, abs=1e-6)
            assert r.failure_risk == pytest.approx(p, abs=1e-9)
            assert s.failure_risk == pytest.approx(p, abs=1e-9)
            assert s.base_value + sum(s.contributions.values()) == pytest.approx(s.log_odds,
                                                                                abs=1e-6)
            assert sum(r.family_totals.values()) == pytest.approx(r.log_odds - r.base_value,
                                                                  abs=1e-9)
    check()


def test_batch_of_n_equals_n_single_calls(scorer, plans):
    batch = scorer.score(plans[:40], top_k=4)
    for rec, b in zip(plans[:40], batch, strict=True):
        [one] = scorer.score(rec, top_k=4)
        assert one.risk_band == b.risk_band
        assert one.failure_risk == pytest.approx(b.failure_risk, abs=1e-12)
        assert [f.factor for f in one.top_factors] == [f.factor for f in b.top_factors]
        for x, y in zip(one.top_factors, b.top_factors, strict=True):
            assert x.log_odds == pytest.approx(y.log_odds, abs=1e-12)
            assert x.reason == y.reason and x.mitigation == y.mitigation
            assert (x.what_if is None) == (y.what_if is None)
            if x.what_if:
                assert x.what_if.failure_risk == pytest.approx(y.what_if.failure_risk,
                                                               abs=1e-12)
        assert one.warnings == b.warnings


def test_top_factors_are_ordered_by_size_and_carry_their_family(scorer, plans):
    for r in scorer.score(plans[:50], top_k=5):
        sizes = [abs(f.log_odds) for f in r.top_factors]
        assert sizes == sorted(sizes, reverse=True)
        largest = max(abs(v) for v in r.contributions.values())
        assert sizes[0] == pytest.approx(largest)
        for f in r.top_factors:
            assert f.family == next(x.family for x in FACTORS if x.name == f.factor)
            assert f.direction == ("raises" if f.log_odds > 0 else "lowers")


def test_ties_break_by_contract_order(scorer, plans):
    from riskmodel.scoring import _top_order

    contributions = np.array([[0.5, -0.5, 0.5, 0.1]])
    assert _top_order(contributions, 3).tolist() == [[0, 1, 2]]


def test_campaign_id_never_changes_a_score(scorer, plans):
    a = scorer.score(dict(plans[0], campaign_id="one"))[0]
    b = scorer.score(dict(plans[0], campaign_id="another-id-entirely"))[0]
    assert a.failure_risk == b.failure_risk and a.top_factors == b.top_factors


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_more_material_delay_never_lowers_risk(scorer, plans, data):
    rec = data.draw(campaigns(plans))
    d1, d2 = sorted(data.draw(st.lists(st.floats(-60, 180), min_size=2, max_size=2)))
    lo = scorer.score(dict(rec, material_delay_days=d1))[0].failure_risk
    hi = scorer.score(dict(rec, material_delay_days=d2))[0].failure_risk
    assert hi >= lo - 1e-12


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_more_goal_agreement_and_budget_never_raise_risk(scorer, plans, data):
    rec = data.draw(campaigns(plans))
    g1, g2 = sorted(data.draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    assert scorer.score(dict(rec, goal_alignment_score=g2))[0].failure_risk <= \
        scorer.score(dict(rec, goal_alignment_score=g1))[0].failure_risk + 1e-12
    b1, b2 = sorted(data.draw(st.lists(st.floats(0, 1e6), min_size=2, max_size=2)))
    assert scorer.score(dict(rec, committed_ad_budget_usd=b2))[0].failure_risk <= \
        scorer.score(dict(rec, committed_ad_budget_usd=b1))[0].failure_risk + 1e-12


def _risky(plans):
    return dict(plans[0], goal_alignment_score=0.3, mou_signed=False, material_delay_days=12,
                campaign_type="deal_of_the_day", duration_days=1, attribution_enabled=False,
                resource_value_usd=20000, committed_ad_budget_usd=1000)


def test_obvious_cases(scorer, plans):
    risky = scorer.score(_risky(plans))[0]
    safe = scorer.score(dict(plans[0], goal_alignment_score=1.0, mou_signed=True,
                             material_delay_days=-5, attribution_enabled=True,
                             utm_configured=True, dedicated_contact=True, weekly_sync=True,
                             resource_value_usd=20000, committed_ad_budget_usd=9000))[0]
    assert risky.failure_risk > 0.5 > safe.failure_risk
    assert risky.risk_band == "high" and safe.risk_band == "low"
    assert risky.escalation and "Co-op Campaign Issue" in risky.escalation
    assert safe.escalation is None


def test_what_if_equals_rescoring_the_changed_campaign(scorer, plans):
    rec = _risky(plans)
    r = scorer.score(rec, top_k=10)[0]
    targets = {"material_delay_days": {"material_delay_days": 0},
               "goal_alignment_score": {"goal_alignment_score": 1.0},
               "mou_signed": {"mou_signed": True},
               "attribution_enabled": {"attribution_enabled": True},
               "budget_match_ratio": {"committed_ad_budget_usd": 6000}}
    seen = 0
    for f in r.top_factors:
        if f.factor in targets and f.direction == "raises":
            again = scorer.score(dict(rec, **targets[f.factor]))[0].failure_risk
            assert f.what_if.failure_risk == pytest.approx(again, abs=1e-12)
            assert f.what_if.change == pytest.approx(again - r.failure_risk)
            assert f.what_if.failure_risk < r.failure_risk
            assert f.reason and f.mitigation
            seen += 1
    assert seen >= 3


def test_only_actionable_raising_factors_get_advice(scorer, plans):
    for r in scorer.score(plans[:60], top_k=6):
        for f in r.top_factors:
            if f.direction == "lowers":
                assert f.reason is None and f.mitigation is None and f.what_if is None
            elif ADVICE[f.factor].actionable:
                assert f.what_if is not None and f.mitigation
            else:
                assert f.what_if is None and f.reason


def test_bands_come_from_the_artifact(scorer):
    medium, high = scorer.model.bands_
    assert scorer.bands == {"medium_from": medium, "high_from": high}
    assert scorer.manifest["bands"]["medium_from"] == medium


def test_empty_optional_fields_are_scored(scorer, plans):
    rec = {k: v for k, v in plans[0].items() if SCHEMA[k].required}
    r = scorer.score(rec)[0]
    assert 0 < r.failure_risk < 1 and isinstance(r, CampaignScore)
    values = {f.factor: f.value
              for f in scorer.score(rec, top_k=len(scorer.factors))[0].top_factors}
    assert values["mou_signed"] is None and values["marketplace"] is None


@pytest.mark.parametrize("bad,fields", [
    ({"marketplace": "Atlantis"}, ["marketplace"]),
    ({"goal_alignment_score": None}, ["goal_alignment_score"]),
    ({"duration_days": "ten"}, ["duration_days"]),
    ({"material_delay_days": float("nan")}, ["material_delay_days"]),
    ({"resource_value_usd": float("inf"), "mou_signed": "maybe"},
     ["mou_signed", "resource_value_usd"]),
    ({"committed_ad_budget_usd": -1}, ["committed_ad_budget_usd"]),
], ids=["unknown-category", "missing-required", "wrong-type", "nan", "inf-and-bool",
        "out-of-range"])
def test_bad_input_is_a_typed_error_listing_every_problem(scorer, plans, bad, fields):
    with pytest.raises(SchemaError) as info:
        scorer.score([plans[0], dict(plans[1], **bad)])
    assert sorted(e.column for e in info.value.errors) == fields
    assert all(e.row == 2 for e in info.value.errors)


def test_readiness_warnings_follow_the_source_thresholds(scorer, plans):
    base = dict(plans[0], marketplace="US", annual_sales_usd=700_000, bsr_top100_products=5,
                has_a_plus_content=True, has_video_main_image=True,
                brand_analytics_active=True, monthly_ad_spend_usd=6000,
                resource_value_usd=10_000, committed_ad_budget_usd=3000)
    codes = lambda rec: {w.code for w in scorer.score(rec)[0].warnings}  # noqa: E731
    assert codes(base) == set()
    assert codes(dict(base, annual_sales_usd=599_999)) == {"sales_below_threshold"}
    assert codes(dict(base, marketplace="DE", annual_sales_usd=430_000)) == \
        {"sales_below_threshold"}  # €400,000 is $440,000
    assert codes(dict(base, marketplace="DE", annual_sales_usd=450_000)) == set()
    assert codes(dict(base, marketplace="JP", annual_sales_usd=100)) == set()
    assert codes(dict(base, bsr_top100_products=2, has_a_plus_content=False,
                      has_video_main_image=False, brand_analytics_active=False,
                      monthly_ad_spend_usd=4999, committed_ad_budget_usd=1999)) == {
        "few_bsr_products", "no_a_plus_content", "no_video_main_image",
        "brand_analytics_not_used", "ad_spend_below_5000", "budget_ratio_below_0_2"}
    assert codes(dict(base, has_a_plus_content=None, annual_sales_usd=None)) == set()
    [w] = scorer.score(dict(base, has_video_main_image=False))[0].warnings
    assert w.value is False and w.column == "has_video_main_image"


def test_explanations_name_the_true_cause(scorer):
    result = faithfulness(scorer, rows=4000, seed=5)
    assert result.eligible >= 100
    assert result.rate >= 0.8, result.confusion


def test_frames_and_records_score_alike(scorer, plans):
    frame = pd.DataFrame(plans[:70])
    a = scorer.score(frame)
    b = scorer.score(plans[:70])
    assert [x.failure_risk for x in a] == pytest.approx([x.failure_risk for x in b], abs=1e-12)
    assert not any(math.isnan(x.failure_risk) for x in a)


def test_the_fast_result_constructors_build_what_the_dataclasses_build(scorer, plans):
    """The one-campaign path fills the frozen results' fields directly: every result must
    equal, serialise, copy and refuse changes like one made by the generated __init__."""
    import dataclasses

    import orjson

    from riskmodel.scoring import CampaignScore, FactorContribution, WhatIf

    def rebuilt(obj):  # the same object through the ordinary constructors, recursively
        if isinstance(obj, tuple):
            return tuple(rebuilt(x) for x in obj)
        if dataclasses.is_dataclass(obj):
            return type(obj)(*(rebuilt(getattr(obj, f.name)) for f in dataclasses.fields(obj)))
        return obj

    for plan in plans[:40]:
        [fast] = scorer.score(plan, top_k=5)
        slow = rebuilt(fast)
        assert type(fast) is CampaignScore and fast == slow
        assert orjson.dumps(fast) == orjson.dumps(slow)
        assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
        assert dataclasses.replace(fast, campaign_id="x").failure_risk == fast.failure_risk
        assert all(type(f) is FactorContribution for f in fast.top_factors)
        assert any(type(f.what_if) is WhatIf for f in fast.top_factors) or not any(
            f.actionable and f.direction == "raises" for f in fast.top_factors)
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.failure_risk = 0.0
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.top_factors[0].log_odds = 0.0


@pytest.mark.parametrize("k", [-1, 22, "three", 2.5, True], ids=["negative", "over", "text",
                                                                   "float", "bool"])
def test_top_k_is_bounded_by_the_number_of_factors(scorer, plans, k):
    from riskmodel import ParameterError

    assert len(scorer.factors) == 21
    with pytest.raises(ParameterError, match="an integer from 0 to 21"):
        scorer.score(plans[0], top_k=k)
    with pytest.raises(ParameterError, match="an integer from 0 to 21"):
        scorer.score(plans[:3], top_k=k)
    assert len(scorer.score(plans[0], top_k=21)[0].top_factors) == 21
