"""Out of the model's depth: training coverage and its flags (riskmodel/coverage.py)."""

import math

import numpy as np

from riskmodel import Scorer, validate_campaigns


def _stats(scorer, name):
    return scorer.model.coverage_["factors"][name]


def test_a_value_beyond_the_training_range_is_named_with_the_range(scorer, plans):
    high = _stats(scorer, "material_delay_days")["high"]
    rec = dict(plans[0], material_delay_days=high + 20)
    [s] = scorer.score(rec)
    [d] = [d for d in s.out_of_depth if d.factor == "material_delay_days"]
    assert d.code == "beyond_training_range"
    assert d.value == high + 20
    assert d.training_range == (_stats(scorer, "material_delay_days")["low"], high)
    assert f"{high + 20:g}" in d.message and f"{high:g}" in d.message
    # information only: the score is the model's, flat beyond the range
    assert math.isclose(s.failure_risk, scorer.predict_proba([rec])[0, 1], rel_tol=1e-12)


def test_a_rare_level_and_a_rarely_unknown_field_are_flagged(scorer, plans):
    counts = _stats(scorer, "marketplace")["counts"]
    rare = [i for i, c in enumerate(counts[:-1]) if c < scorer.model.coverage_["min_count"]]
    assert rare, counts  # some stores are 1-2% of the generated plans
    market = scorer.factors[scorer.factor_names.index("marketplace")].levels[rare[0]]
    [s] = scorer.score(dict(plans[0], marketplace=market))
    [d] = [d for d in s.out_of_depth if d.factor == "marketplace"]
    assert (d.code, d.value, d.training_count) == ("rare_level", market, counts[rare[0]])
    # an unknown field that training always knew: campaign_id aside, every optional field
    # was blank in about 3% of plans, so only a never-blank one is flagged
    common = dict(plans[0], attribution_enabled=None)
    assert not [d for d in scorer.score(common)[0].out_of_depth
                if d.factor == "attribution_enabled"]


def test_covered_campaigns_have_no_entries_and_rows_match_the_batch(scorer, plans):
    high = _stats(scorer, "duration_days")["high"]
    recs = [plans[1], dict(plans[2], duration_days=min(high + 5, 120)), plans[3]]
    singles = [scorer.score(r)[0] for r in recs]
    v = validate_campaigns(recs)
    rows = scorer.explain_batch(v.batch).rows()
    assert [r.out_of_depth for r in rows] == [s.out_of_depth for s in singles]
    assert [bool(s.out_of_depth) for s in singles] == [False, True, False]


def test_rarely_unknown_fields_are_flagged(scorer, plans):
    # a model whose training never had the weekly sync unknown
    stats = dict(scorer.model.coverage_)
    stats["factors"] = dict(stats["factors"])
    counts = list(stats["factors"]["weekly_sync"]["counts"])
    counts[-1] = 0
    stats["factors"]["weekly_sync"] = {"kind": "level", "counts": counts}
    model = scorer.model.__class__(**{k: v for k, v in vars(scorer.model).items()
                                      if not k.startswith("_")})
    model.coverage_ = stats
    s2 = Scorer(model, "test")
    [s] = s2.score(dict(plans[0], weekly_sync=None))
    [d] = [d for d in s.out_of_depth if d.factor == "weekly_sync"]
    assert (d.code, d.value, d.training_count) == ("rarely_unknown", None, 0)
    assert "unknown" in d.message


def test_a_model_without_coverage_flags_nothing(scorer, plans):
    model = scorer.model.__class__(**{k: v for k, v in vars(scorer.model).items()
                                      if not k.startswith("_")})
    model.coverage_ = None
    s2 = Scorer(model, "test")
    rec = dict(plans[0], material_delay_days=180.0)
    assert s2.score(rec)[0].out_of_depth == ()
    v = validate_campaigns([rec, plans[1]])
    e = s2.explain_batch(v.batch)
    assert e.out_of_depth is None and all(r.out_of_depth == () for r in e.rows())
    assert np.isclose(s2.score(rec)[0].failure_risk, scorer.score(rec)[0].failure_risk)
