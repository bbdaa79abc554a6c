"""The additive model's purified interactions and their Shapley split (riskmodel/model.py)."""

import math
from itertools import combinations
from pathlib import Path

import joblib
import numpy as np
import pytest

from riskmodel import ArtifactError, Scorer, load_model, validate_campaigns
from riskmodel.features import FACTORS
from riskmodel.model import (
    DRIVER,
    SHAPLEY_PURIFIED,
    AdditiveRiskModel,
    Term,
    interaction_value,
    purify,
)
from training.synthetic import generate
from training.train import CANDIDATES, train

SMALL = ("goal_alignment_score", "mou_signed", "material_delay_days", "campaign_type",
         "custom_video_required")


@pytest.fixture(scope="module")
def small():
    """A five-factor model with both shipped interactions, fitted on 1,500 campaigns."""
    v = validate_campaigns(generate(1500, seed=4))
    factors = tuple(f for f in FACTORS if f.name in SMALL)
    y = generate(1500, seed=4)["failed"].astype(int).to_numpy()
    model = AdditiveRiskModel(factors=factors).fit(v.batch, y)
    return model, model._inputs(v.batch)


def _design_log_odds(model, inputs):
    """The reference path: the design matrix and the solver's coefficients, which
    purification never touches."""
    blocks = [t.design(inputs[t.factor], t.modifier_input(inputs)) for t in model.terms_]
    return model.solver_.decision_function(np.hstack(blocks))


def _shapley(value, n):
    """Exact Shapley values of the set function ``value`` (frozenset -> array of rows)."""
    players = range(n)
    phi = []
    for k in players:
        others = [p for p in players if p != k]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for s in combinations(others, size):
                total = total + weight * (value(frozenset(s) | {k}) - value(frozenset(s)))
        phi.append(total)
    return np.column_stack(phi)


def test_purification_keeps_the_log_odds_and_leaves_pure_interactions(small):
    model, inputs = small
    assert model.attribution_ == SHAPLEY_PURIFIED
    raw = model.compiled_.raw(inputs)
    np.testing.assert_allclose(model.solver_.intercept_[0] + raw.sum(axis=1),
                               _design_log_odds(model, inputs), rtol=0, atol=1e-9)
    for t in (t for t in model.terms_ if t.kind == "interaction"):
        # zero mean over the modifier's training shares, at every driver value ...
        np.testing.assert_allclose(t.level_shares @ t.values, 0.0, atol=1e-12)
        assert abs(t.level_shares @ t.unknown_values) < 1e-12
        # ... and over the driver's training values, at every level
        x = inputs[t.factor]
        for level in range(t.n_levels):
            pure = interaction_value(t.knots, t.values, t.unknown_values, x,
                                     np.full(len(x), level))
            assert abs(pure.mean()) < 1e-12


def test_contributions_are_exact_interventional_shapley_values(small):
    """Brute force over every coalition of the five factors, the training campaigns as the
    background, the log-odds from the design matrix (not the compiled tables)."""
    model, inputs = small
    names = model.factor_names
    rows = np.arange(12)
    x = {k: v[rows] for k, v in inputs.items()}
    n_bg = len(inputs[names[0]])

    def value(s):
        # every explained row against every background row, the coalition's from the row
        z = {k: np.where(names.index(k) in s if k in names else True,
                         np.repeat(x[k], n_bg), np.tile(inputs[k], len(rows)))
             for k in inputs}
        return _design_log_odds(model, z).reshape(len(rows), n_bg).mean(axis=1)

    expected = _shapley(value, len(names))
    contributions = model.compiled_.raw(x) - model.factor_means_
    np.testing.assert_allclose(contributions, expected, rtol=0, atol=1e-9)


def test_the_closed_form_for_one_pairwise_term_matches_brute_force():
    rng = np.random.default_rng(0)
    knots = np.array([-2.0, -0.5, 0.0, 1.5, 4.0])
    term = Term("d", "interaction", modifier="m", knots=knots, n_levels=4)
    term.values = rng.normal(size=(4, 5))
    x = np.concatenate([rng.normal(size=300) * 2, [np.nan] * 20])
    m = rng.integers(0, 4, size=320).astype(np.intp)
    g_before = term.evaluate(x, m)
    to_modifier, pure_mean = purify(term, x, m)
    lvl = m
    pure = interaction_value(knots, term.values, term.unknown_values, x, lvl)
    driver = term.evaluate(x, m) - pure  # the part moved to the driver's main effect
    np.testing.assert_allclose(pure + driver + to_modifier[lvl], g_before, atol=1e-12)
    assert abs(pure.mean() - pure_mean) < 1e-12

    def value(s):  # v(S) with the sample as the background, on g alone
        xs = np.repeat(x, len(x)) if 0 in s else np.tile(x, len(x))
        ms = np.repeat(m, len(m)) if 1 in s else np.tile(m, len(m))
        return term.evaluate(xs, ms).reshape(len(x), len(x)).mean(axis=1) + to_modifier[
            ms].reshape(len(x), len(x)).mean(axis=1)

    phi = _shapley(value, 2)
    # the driver: its main-effect part plus half the pure part, each less its mean
    np.testing.assert_allclose(phi[:, 0], driver - driver.mean() + (pure - pure_mean) / 2,
                               atol=1e-9)
    np.testing.assert_allclose(phi[:, 1], to_modifier[lvl] - to_modifier[lvl].mean()
                               + (pure - pure_mean) / 2, atol=1e-9)


def test_one_campaign_and_batch_tables_agree(small):
    model, inputs = small
    raw = model.compiled_.raw(inputs)
    for i in range(0, 1500, 97):
        x = {k: float(v[i]) if v.dtype.kind == "f" else int(v[i]) for k, v in inputs.items()}
        np.testing.assert_allclose(model.compiled_.raw_one(x), raw[i], atol=1e-12)


def _table(scorer, plans):
    """The issue's three rows: a deal of the day, materials on time, budget at 30%, half
    the KPI targets agreed; the MOU unsigned, signed, unknown."""
    rec = dict(plans[0], campaign_type="deal_of_the_day", material_delay_days=0.0,
               goal_alignment_score=0.5)
    rec["committed_ad_budget_usd"] = 0.3 * rec["resource_value_usd"]
    out = {}
    for mou in (False, True, None):
        [s] = scorer.score(dict(rec, mou_signed=mou))
        out[mou] = s.contributions
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_an_unsigned_mou_no_longer_hides_misaligned_goals(seed, plans):
    """The issue's contradiction: without an MOU, half-agreed goals matter more (the
    generator multiplies the goal term by 1 - 0.35 * MOU); the old split called them
    (nearly) neutral and blamed the MOU. Both histories showed it before purification
    (unsigned +0.04 / -0.04 against signed +0.53 / +0.63)."""
    result = train(generate(10_000, seed=seed), write=False, progress=False,
                   candidates={"additive_spline_interactions": CANDIDATES[
                       "additive_spline_interactions"]})
    scorer = Scorer(result.model, "test", result.manifest)
    assert scorer.attribution == SHAPLEY_PURIFIED
    table = _table(scorer, plans)
    unsigned, signed = table[False]["goal_alignment_score"], table[True][
        "goal_alignment_score"]
    assert unsigned >= signed
    assert unsigned > 0


def test_a_model_fitted_before_purification_reads_as_driver(tmp_path, monkeypatch, small):
    """An artifact pickled before this change holds no ``attribution_``: it loads under the
    old rule, says so, and is never read as purified."""
    model, inputs = small
    monkeypatch.setattr(AdditiveRiskModel, "_purify", lambda self, inputs: None)
    v = validate_campaigns(generate(1500, seed=4))
    y = generate(1500, seed=4)["failed"].astype(int).to_numpy()
    old = AdditiveRiskModel(factors=model.factors).fit(v.batch, y)
    for t in old.terms_:  # as the old code pickled a term
        for name in ("unknown_values", "driver_values", "driver_unknown", "level_shares",
                     "pure_mean"):
            t.__dict__.pop(name)
    del old.__dict__["attribution_"]  # the old code had no such field
    joblib.dump(old, tmp_path / "old.joblib")
    loaded = joblib.load(tmp_path / "old.joblib")
    loaded.bands_ = (0.2, 0.4)
    scorer = Scorer(loaded, "old")
    assert scorer.attribution == DRIVER
    raw = loaded.compiled_.raw(inputs)
    np.testing.assert_allclose(loaded.solver_.intercept_[0] + raw.sum(axis=1),
                               _design_log_odds(loaded, inputs), atol=1e-9)
    # the old rule: the modifier's column holds its main effect only
    main = next(t for t in loaded.terms_ if t.factor == "mou_signed")
    mou = inputs["mou_signed"]
    codes = np.where(np.isnan(mou), 2, mou).astype(int)
    np.testing.assert_allclose(raw[:, loaded.factor_names.index("mou_signed")],
                               main.values[codes], atol=1e-12)
    with pytest.raises(ArtifactError, match="retrain"):
        Scorer(loaded, "old", {"model": {"attribution": SHAPLEY_PURIFIED}})
    loaded.attribution_ = "by-guesswork"
    with pytest.raises(ArtifactError, match="retrain"):
        Scorer(loaded, "old")


SHIPPED = Path(__file__).resolve().parents[1] / "artifacts"
BEFORE = "v20261128-135803-c34b6a6d"  # the model shipped before purification, in the data format


def _issue_rows(scorer):
    """The issue's three rows on a shipped model (benchmarks/interaction_table.py)."""
    from benchmarks.interaction_table import campaign

    rec = campaign()
    return {mou: scorer.score(dict(rec, mou_signed=mou))[0].contributions
            for mou in (False, True, None)}


def test_the_rebuilt_default_model_no_longer_hides_misaligned_goals():
    scorer = load_model(root=SHIPPED)
    assert scorer.attribution == SHAPLEY_PURIFIED
    rows = _issue_rows(scorer)
    assert rows[False]["goal_alignment_score"] >= rows[True]["goal_alignment_score"]
    assert rows[False]["goal_alignment_score"] > 0


def test_the_model_shipped_before_loads_with_the_old_convention_stated():
    scorer = load_model(BEFORE, root=SHIPPED)
    assert scorer.attribution == DRIVER
    rows = _issue_rows(scorer)  # the issue's table, as it was
    assert rows[False]["goal_alignment_score"] < rows[True]["goal_alignment_score"]
