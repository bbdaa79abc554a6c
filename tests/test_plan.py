"""The plan: actionable changes, applied together and re-scored, in order (riskmodel/plan.py)."""

import math

import pytest

from riskmodel import SCHEMA, validate_campaigns
from riskmodel.advice import ADVICE


def _apply(rec, steps):
    """The campaign with every step's change made, as a planner would write it."""
    out = dict(rec)
    for step in steps:
        target = ADVICE[step.factor].target
        if step.factor == "budget_match_ratio":
            ratio = out["committed_ad_budget_usd"] / out["resource_value_usd"]
            out["committed_ad_budget_usd"] = target.one(ratio) * out["resource_value_usd"]
        elif SCHEMA[step.factor].kind == "boolean":
            out[step.factor] = bool(target.one(math.nan))  # a yes/no target is "set"
        else:
            out[step.factor] = target.one(float(out[step.factor]))
    return out


@pytest.fixture(scope="module")
def risky(scorer, plans):
    return [r for r in plans if scorer.score(r)[0].risk_band != "low"][:60]


def test_each_step_is_the_jointly_rescored_campaign(scorer, risky):
    assert len(risky) >= 30
    for rec in risky:
        [s] = scorer.score(rec)
        assert s.plan, s.campaign_id
        for k in range(1, len(s.plan) + 1):
            [after] = scorer.score(_apply(rec, s.plan[:k]))
            assert after.failure_risk == pytest.approx(s.plan[k - 1].failure_risk, abs=1e-9)
        assert s.plan_failure_risk == pytest.approx(s.plan[-1].failure_risk, abs=1e-12)
        risks = [s.failure_risk] + [p.failure_risk for p in s.plan]
        assert all(b < a for a, b in zip(risks, risks[1:], strict=False))  # each step helps
        assert all(p.change == pytest.approx(b - a) for p, a, b in
                   zip(s.plan, risks, risks[1:], strict=False))
        assert len({p.factor for p in s.plan}) == len(s.plan)


def test_a_plan_stops_in_the_low_band_or_when_nothing_lowers_the_risk(scorer, risky):
    low = scorer.bands["medium_from"]
    for rec in risky:
        [s] = scorer.score(rec)
        if s.plan_risk_band == "low":
            assert s.plan_failure_risk < low
            assert all(p.failure_risk >= low for p in s.plan[:-1])  # no longer than needed
        else:  # every change left would not lower the risk
            done = _apply(rec, s.plan)
            [d] = scorer.score(done)
            assert d.plan == () or d.plan_failure_risk >= s.plan_failure_risk - 1e-12


def test_greedy_takes_the_largest_drop_first(scorer, risky):
    for rec in risky[:20]:
        [s] = scorer.score(rec)
        first = s.plan[0]
        for factor, advice in ADVICE.items():
            if advice.target is None or factor == first.factor:
                continue
            [alone] = scorer.score(_apply(rec, [type(first)(factor, "", "", 0.0, 0.0)]))
            assert alone.failure_risk >= first.failure_risk - 1e-12, factor


def test_low_campaigns_get_no_plan_and_batch_rows_match(scorer, plans):
    v = validate_campaigns(plans[:80])
    rows = scorer.explain_batch(v.batch).rows()
    for rec, row in zip(plans[:80], rows, strict=True):
        [one] = scorer.score(rec)
        assert [p.factor for p in one.plan] == [p.factor for p in row.plan]
        for a, b in zip(one.plan, row.plan, strict=True):
            assert a.failure_risk == pytest.approx(b.failure_risk, abs=1e-12)
        assert one.plan_failure_risk == pytest.approx(row.plan_failure_risk, abs=1e-12)
        assert one.plan_risk_band == row.plan_risk_band
        if one.risk_band == "low":
            assert one.plan == () and one.plan_failure_risk == one.failure_risk


def test_the_plan_takes_the_mou_and_goal_interaction_into_account(scorer, plans):
    """Signing the MOU changes what agreeing the goals is worth: each step's risk is the
    joint re-score, not the sum of the separate what-ifs."""
    rec = dict(plans[0], goal_alignment_score=0.1, mou_signed=False,
               material_delay_days=0.0, campaign_type="deal_of_the_day")
    [s] = scorer.score(rec)
    factors = [p.factor for p in s.plan]
    assert "goal_alignment_score" in factors
    [joint] = scorer.score(_apply(rec, s.plan))
    assert joint.failure_risk == pytest.approx(s.plan_failure_risk, abs=1e-9)
