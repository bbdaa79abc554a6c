"""A synthetic history of co-op campaigns that knows the true risk of every one.

Every assumption is listed, with its source, in ``docs/synthetic-data.md``; the numbers live in
:class:`World` so that a changed world (for retraining tests) is one ``replace`` away.

The true failure log-odds is a sum of one term per factor family (so each family's share of
a campaign's risk is known exactly), with non-linear effects and two interactions:

- late materials hurt fixed-date placements (Deal of the Day, Lightning Deals, Prime member
  discounts) more than long-running ones; the term belongs to ``delivery``, the family of the
  cause a brand can fix;
- a signed MOU softens the harm of unagreed goals; the term belongs to ``goal_alignment``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from riskmodel import BUDGET_RATIO, SCHEMA

MARKETPLACES = SCHEMA["marketplace"].categories
CATEGORIES = SCHEMA["category"].categories
CAMPAIGN_TYPES = SCHEMA["campaign_type"].categories
FAILURE_REASONS = SCHEMA["failure_reason"].categories

FIXED_DATE_TYPES = ("deal_of_the_day", "lightning_deal", "prime_member_discount")

REASON_OF_FAMILY = {
    "goal_alignment": "goal_misalignment",
    "delivery": "material_delay",
    "budget_match": "budget_shortfall",
    "attribution_readiness": "attribution_gap",
    "brand_strength": "other",
    "campaign_context": "other",
}


def _probs(d: dict, order: tuple[str, ...]) -> np.ndarray:
    p = np.array([d[k] for k in order], dtype=float)
    return p / p.sum()


@dataclass(frozen=True)
class World:
    """The parameters of the true process. Defaults are the documented base world."""

    intercept: float = -3.15
    # goal alignment: 3.6 * (1 - score)^1.5 * (1 - 0.35 * mou) - 0.25 * mou
    goal_scale: float = 3.6
    goal_power: float = 1.5
    mou_softening: float = 0.35
    mou_effect: float = -0.25
    # delivery: saturating lateness, multiplied for fixed-date placements
    delay_scale: float = 2.0
    delay_days: float = 7.0
    fixed_date_multiplier: float = 1.7
    past_delay_slope: float = 0.04
    no_history_effect: float = 0.15
    custom_video_effect: float = 0.35
    dedicated_contact_effect: float = -0.3
    weekly_sync_effect: float = -0.25
    # budget: hinge in log ratio below 0.3, capped
    budget_scale: float = 1.2
    budget_target: float = 0.3
    budget_cap: float = 3.0
    # attribution readiness
    no_attribution_effect: float = 0.55
    no_utm_effect: float = 0.3
    no_brand_analytics_effect: float = 0.2
    # brand strength
    log_sales_slope: float = -0.25
    bsr_slope: float = -0.06
    a_plus_effect: float = -0.15
    video_image_effect: float = -0.1
    prior_coop_slope: float = -0.06
    # campaign context
    type_effects: dict = field(default_factory=lambda: {
        "sponsored_brands_video": 0.1, "deal_of_the_day": 0.2, "lightning_deal": 0.15,
        "prime_member_discount": 0.0, "search_top_banner": -0.1, "app_push": 0.1,
        "editorial_placement": -0.15, "offsite_attribution_rebate": 0.3})
    category_effects: dict = field(default_factory=lambda: {
        "home": 0.0, "consumer_electronics": 0.0, "health_personal_care": 0.0,
        "pet_smart_devices": 0.4, "beauty": 0.1, "sports_outdoors": 0.05, "toys_games": 0.1,
        "other": 0.2})
    marketplace_effects: dict = field(default_factory=lambda: {
        m: {"US": 0.0, "CA": 0.05, "JP": 0.15, "DE": 0.05, "IN": 0.25, "BR": 0.2,
            "MX": 0.2}.get(m, 0.1) for m in MARKETPLACES})
    duration_slope: float = 0.004
    # how often a value is unknown at planning time
    missing_rate: float = 0.03
    # reason propensities: frozen so that failed campaigns split 47 / 31 / 22 (see docs)
    reason_weights: dict = field(default_factory=lambda: dict(REASON_WEIGHTS))


# Solved by ``calibrate_reason_weights`` on 400,000 rows of the base world (seed 0) so that
# among failures goal_misalignment is 47%, material_delay 31%, and budget_shortfall 9%,
# attribution_gap 7%, other 6% (the source gives only the 22% total; the split is ours).
REASON_WEIGHTS: dict[str, float] = {
    "goal_misalignment": 1.0, "material_delay": 0.3243, "budget_shortfall": 0.0893,
    "attribution_gap": 0.2792, "other": 0.1559}

MARKETPLACE_SHARE = {"US": .38, "CA": .07, "MX": .02, "BR": .02, "UK": .09, "DE": .11,
                     "FR": .05, "IT": .04, "ES": .04, "NL": .02, "SE": .01, "PL": .01,
                     "JP": .09, "AU": .03, "IN": .02}
CATEGORY_SHARE = {"home": .24, "consumer_electronics": .22, "health_personal_care": .18,
                  "pet_smart_devices": .05, "beauty": .11, "sports_outdoors": .08,
                  "toys_games": .07, "other": .05}
TYPE_SHARE = {"sponsored_brands_video": .18, "deal_of_the_day": .14, "lightning_deal": .20,
              "prime_member_discount": .14, "search_top_banner": .12, "app_push": .07,
              "editorial_placement": .08, "offsite_attribution_rebate": .07}
DURATION_RANGE = {"sponsored_brands_video": (14, 90), "deal_of_the_day": (1, 1),
                  "lightning_deal": (1, 1), "prime_member_discount": (3, 14),
                  "search_top_banner": (14, 31), "app_push": (1, 3),
                  "editorial_placement": (7, 30), "offsite_attribution_rebate": (30, 90)}
RESOURCE_BASE = {"sponsored_brands_video": 20_000, "deal_of_the_day": 40_000,
                 "lightning_deal": 15_000, "prime_member_discount": 25_000,
                 "search_top_banner": 30_000, "app_push": 35_000,
                 "editorial_placement": 12_000, "offsite_attribution_rebate": 10_000}


@dataclass(frozen=True)
class Shift:
    """A world that moved, for testing monitoring: drift and miscalibration on purpose.

    ``delay_days`` is added to every plan's material delay (later materials);
    ``budget_ratio_factor`` multiplies every committed budget (lower budget ratios below
    1); ``category_share`` replaces the category mix (shares by category, any not named
    weigh 0; normalised); ``base_logit`` is added to the true failure log-odds (a changed
    base failure rate the plans do not show). The true process reads the shifted plans, so
    later materials really are riskier. The default shifts nothing: the same rows as
    without it.
    """

    delay_days: float = 0.0
    budget_ratio_factor: float = 1.0
    category_share: dict | None = None
    base_logit: float = 0.0

    def __post_init__(self) -> None:
        if not self.budget_ratio_factor > 0:
            raise ValueError(f"budget_ratio_factor must be > 0; got {self.budget_ratio_factor}")
        if self.category_share is not None:
            unknown = sorted(set(self.category_share) - set(CATEGORIES))
            if unknown:
                raise ValueError(f"category_share names unknown categories {unknown}; "
                                 f"allowed: {', '.join(CATEGORIES)}")
            if any(v < 0 for v in self.category_share.values()) or \
                    sum(self.category_share.values()) <= 0:
                raise ValueError("category_share needs shares ≥ 0 with a positive sum; got "
                                 f"{self.category_share}")

    @property
    def moved(self) -> tuple[str, ...]:
        """The model's factors whose distribution this shift moves (a committed budget
        moves the budget match ratio)."""
        out = []
        if self.category_share is not None:
            out.append("category")
        if self.delay_days:
            out.append("material_delay_days")
        if self.budget_ratio_factor != 1.0:
            out.append("budget_match_ratio")
        return tuple(out)


NO_SHIFT = Shift()


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _plans(n: int, rng: np.random.Generator, shift: Shift = NO_SHIFT) -> dict[str, np.ndarray]:
    """Draw the full (never missing) traits of ``n`` campaign plans (moved by ``shift``;
    the same draws either way, so an unshifted world gives the same rows)."""
    category_share = CATEGORY_SHARE if shift.category_share is None else \
        {c: float(shift.category_share.get(c, 0.0)) for c in CATEGORIES}
    z = rng.standard_normal(n)  # brand strength
    org = 0.5 * z + 0.87 * rng.standard_normal(n)  # how organised the brand's team is
    bern = lambda p: rng.random(n) < p  # noqa: E731
    t = rng.choice(len(CAMPAIGN_TYPES), n, p=_probs(TYPE_SHARE, CAMPAIGN_TYPES))
    types = np.array(CAMPAIGN_TYPES)[t]
    lo = np.array([DURATION_RANGE[c][0] for c in CAMPAIGN_TYPES])[t]
    hi = np.array([DURATION_RANGE[c][1] for c in CAMPAIGN_TYPES])[t]
    duration = lo + np.floor(rng.random(n) * (hi - lo + 1))
    prior = rng.poisson(np.exp(0.6 + 0.6 * z)).astype(float)
    mou = bern(_sigmoid(0.2 + 0.8 * org + 0.3 * (prior > 0)))
    goal = _sigmoid(0.6 + 0.8 * org + 0.9 * mou + 0.9 * rng.standard_normal(n))
    dedicated = bern(_sigmoid(0.5 + 1.0 * org))
    sync = bern(_sigmoid(0.0 + 1.0 * org))
    has_history = prior > 0
    past = np.where(has_history, np.clip(2 - 2.5 * org + 4 * rng.standard_normal(n), -60, 180),
                    np.nan)
    video = bern(_sigmoid(-1.2 + 2.2 * (types == "sponsored_brands_video")
                          + 0.4 * np.isin(types, ["deal_of_the_day", "search_top_banner",
                                                  "editorial_placement"])))
    delay = (0.5 * np.where(has_history, past, 2.0) + 6 * video - 2.5 * dedicated - 2 * sync
             - 1 + 4 * rng.standard_normal(n) + rng.exponential(2.0, n))
    delay = np.clip(np.round((delay + shift.delay_days) * 2) / 2, -60, 180)
    base = np.array([RESOURCE_BASE[c] for c in CAMPAIGN_TYPES], dtype=float)[t]
    resource = np.round(np.exp(np.log(base) + 0.4 * z + 0.5 * rng.standard_normal(n)), 2)
    ratio = np.exp(np.log(0.32) + 0.15 * z + 0.1 * org + 0.55 * rng.standard_normal(n))
    ratio = np.where(rng.random(n) < 0.04, 0.0, ratio)
    budget = np.round(ratio * shift.budget_ratio_factor * resource, 2)
    attr = bern(_sigmoid(-0.2 + 0.8 * z + 0.5 * org))
    utm = bern(_sigmoid(-0.5 + 0.5 * z + 0.6 * org + 1.0 * attr))
    ba = bern(_sigmoid(0.5 + 0.9 * z))
    return {
        "marketplace": rng.choice(MARKETPLACES, n, p=_probs(MARKETPLACE_SHARE, MARKETPLACES)),
        "category": rng.choice(CATEGORIES, n, p=_probs(category_share, CATEGORIES)),
        "campaign_type": types,
        "duration_days": duration,
        "goal_alignment_score": np.round(goal, 3),
        "mou_signed": mou,
        "dedicated_contact": dedicated,
        "weekly_sync": sync,
        "material_delay_days": delay,
        "brand_avg_past_delay_days": np.round(past, 1),
        "custom_video_required": video,
        "resource_value_usd": resource,
        "committed_ad_budget_usd": budget,
        "attribution_enabled": attr,
        "utm_configured": utm,
        "brand_analytics_active": ba,
        "annual_sales_usd": np.round(np.exp(np.log(1.5e6) + 0.9 * z
                                            + 0.5 * rng.standard_normal(n)), -2),
        "bsr_top100_products": rng.poisson(np.exp(1.0 + 0.7 * z)).astype(float),
        "monthly_ad_spend_usd": np.round(np.exp(np.log(8000) + 0.8 * z
                                                + 0.5 * rng.standard_normal(n)), 0),
        "has_a_plus_content": bern(_sigmoid(1.2 + 1.0 * z)),
        "has_video_main_image": bern(_sigmoid(0.2 + 0.9 * z)),
        "prior_coop_campaigns": prior,
    }


def family_terms(p: dict[str, np.ndarray], w: World) -> dict[str, np.ndarray]:
    """The true log-odds term of each factor family, uncentred, from full plan traits."""
    f = lambda a: np.asarray(a, dtype=float)  # noqa: E731
    mou = f(p["mou_signed"])
    goal = (w.goal_scale * (1 - f(p["goal_alignment_score"])) ** w.goal_power
            * (1 - w.mou_softening * mou) + w.mou_effect * mou)
    fixed = np.isin(p["campaign_type"], FIXED_DATE_TYPES)
    late = np.maximum(f(p["material_delay_days"]), 0)
    past = f(p["brand_avg_past_delay_days"])
    delivery = (w.delay_scale * (1 - np.exp(-late / w.delay_days))
                * np.where(fixed, w.fixed_date_multiplier, 1.0)
                + np.where(np.isnan(past), w.no_history_effect,
                           w.past_delay_slope * np.maximum(np.nan_to_num(past), 0))
                + w.custom_video_effect * f(p["custom_video_required"])
                + w.dedicated_contact_effect * f(p["dedicated_contact"])
                + w.weekly_sync_effect * f(p["weekly_sync"]))
    ratio = f(p["committed_ad_budget_usd"]) / f(p["resource_value_usd"])
    budget = np.minimum(w.budget_scale * np.maximum(
        np.log(w.budget_target / np.maximum(ratio, 1e-9)), 0), w.budget_cap)
    attribution = (w.no_attribution_effect * (1 - f(p["attribution_enabled"]))
                   + w.no_utm_effect * (1 - f(p["utm_configured"]))
                   + w.no_brand_analytics_effect * (1 - f(p["brand_analytics_active"])))
    brand = (w.log_sales_slope * np.log(f(p["annual_sales_usd"]) / 1.5e6)
             + w.bsr_slope * np.minimum(f(p["bsr_top100_products"]), 10)
             + w.a_plus_effect * f(p["has_a_plus_content"])
             + w.video_image_effect * f(p["has_video_main_image"])
             + w.prior_coop_slope * np.minimum(f(p["prior_coop_campaigns"]), 8))
    lookup = lambda d, col: np.vectorize(d.get, otypes=[float])(p[col])  # noqa: E731
    context = (lookup(w.type_effects, "campaign_type") + lookup(w.category_effects, "category")
               + lookup(w.marketplace_effects, "marketplace")
               + w.duration_slope * (f(p["duration_days"]) - 14))
    return {"goal_alignment": goal, "delivery": delivery, "budget_match": budget,
            "attribution_readiness": attribution, "brand_strength": brand,
            "campaign_context": context}


def factor_terms(p: dict[str, np.ndarray], w: World
                 ) -> tuple[dict[str, np.ndarray], list[tuple[str, str, np.ndarray, np.ndarray]]]:
    """The true log-odds by the model's factors: one main term per factor (uncentred) and
    the two pairwise terms as products ``u(x_i) * v(x_j)``. Their sum is the sum of
    :func:`family_terms` (a test holds them equal); the two interactions are whole here,
    where the family terms give each to the family of its driver."""
    f = lambda a: np.asarray(a, dtype=float)  # noqa: E731
    lookup = lambda d, col: np.vectorize(d.get, otypes=[float])(p[col])  # noqa: E731
    mou = f(p["mou_signed"])
    past = f(p["brand_avg_past_delay_days"])
    ratio = f(p["committed_ad_budget_usd"]) / f(p["resource_value_usd"])
    mains = {
        "mou_signed": w.mou_effect * mou,
        "dedicated_contact": w.dedicated_contact_effect * f(p["dedicated_contact"]),
        "weekly_sync": w.weekly_sync_effect * f(p["weekly_sync"]),
        "brand_avg_past_delay_days": np.where(
            np.isnan(past), w.no_history_effect,
            w.past_delay_slope * np.maximum(np.nan_to_num(past), 0)),
        "custom_video_required": w.custom_video_effect * f(p["custom_video_required"]),
        BUDGET_RATIO: np.minimum(w.budget_scale * np.maximum(
            np.log(w.budget_target / np.maximum(ratio, 1e-9)), 0), w.budget_cap),
        "attribution_enabled": w.no_attribution_effect * (1 - f(p["attribution_enabled"])),
        "utm_configured": w.no_utm_effect * (1 - f(p["utm_configured"])),
        "brand_analytics_active": w.no_brand_analytics_effect * (
            1 - f(p["brand_analytics_active"])),
        "annual_sales_usd": w.log_sales_slope * np.log(f(p["annual_sales_usd"]) / 1.5e6),
        "bsr_top100_products": w.bsr_slope * np.minimum(f(p["bsr_top100_products"]), 10),
        "has_a_plus_content": w.a_plus_effect * f(p["has_a_plus_content"]),
        "has_video_main_image": w.video_image_effect * f(p["has_video_main_image"]),
        "prior_coop_campaigns": w.prior_coop_slope * np.minimum(
            f(p["prior_coop_campaigns"]), 8),
        "monthly_ad_spend_usd": np.zeros(len(mou)),  # no effect of its own in this world
        "campaign_type": lookup(w.type_effects, "campaign_type"),
        "category": lookup(w.category_effects, "category"),
        "marketplace": lookup(w.marketplace_effects, "marketplace"),
        "duration_days": w.duration_slope * (f(p["duration_days"]) - 14),
    }
    goal = w.goal_scale * (1 - f(p["goal_alignment_score"])) ** w.goal_power
    late = w.delay_scale * (1 - np.exp(-np.maximum(f(p["material_delay_days"]), 0)
                                       / w.delay_days))
    fixed = np.where(np.isin(p["campaign_type"], FIXED_DATE_TYPES),
                     w.fixed_date_multiplier, 1.0)
    pairs = [("goal_alignment_score", "mou_signed", goal, 1 - w.mou_softening * mou),
             ("material_delay_days", "campaign_type", late, fixed)]
    return mains, pairs


def factor_shares(p: dict[str, np.ndarray], w: World,
                  population: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Each factor's exact interventional Shapley value of the true log-odds, against the
    ``population`` (400,000 plans of seed 0 by default).

    A main term contributes its value minus its population mean. A pairwise term
    ``g = u(x_i) v(x_j)`` gives, with ``A = u(x_i) E[v]``, ``B = E[u] v(x_j)`` and
    ``c = E[u v]`` (population means), ``phi_i = (g + A - B - c) / 2`` and
    ``phi_j = (g + B - A - c) / 2``: the Shapley formula for two players whose value
    functions are ``v({}) = c``, ``v({i}) = A``, ``v({j}) = B``, ``v({i, j}) = g``. The
    shares add up to the log-odds minus the population's mean log-odds.
    """
    stats = _factor_stats(w) if population is None else _stats(population, w)
    mains, pairs = factor_terms(p, w)
    out = {name: v - stats["mains"][name] for name, v in mains.items()}
    for (i, j, u, v), (eu, ev, euv) in zip(pairs, stats["pairs"], strict=True):
        g, a, b = u * v, u * ev, eu * v
        out[i] = out.get(i, 0.0) + (g + a - b - euv) / 2
        out[j] = out.get(j, 0.0) + (g + b - a - euv) / 2
    return out


def _stats(population: dict[str, np.ndarray], w: World) -> dict:
    mains, pairs = factor_terms(population, w)
    return {"mains": {k: float(v.mean()) for k, v in mains.items()},
            "pairs": [(float(u.mean()), float(v.mean()), float((u * v).mean()))
                      for _, _, u, v in pairs]}


def _factor_stats(w: World) -> dict:
    """:func:`_stats` of 400,000 plans of seed 0 (the centring population), cached."""
    key = repr(w)
    if key not in _STATS:
        _STATS[key] = _stats(_plans(400_000, np.random.default_rng(0)), w)
    return _STATS[key]


_STATS: dict[str, dict] = {}


def _family_means(w: World) -> dict[str, float]:
    """Population mean of each family term (400,000 plans, seed 0): the centring point."""
    key = repr(w)
    if key not in _MEANS:
        terms = family_terms(_plans(400_000, np.random.default_rng(0)), w)
        _MEANS[key] = {k: float(v.mean()) for k, v in terms.items()}
    return dict(_MEANS[key])


_MEANS: dict[str, dict[str, float]] = {}


def _reason_probabilities(centred: dict[str, np.ndarray], w: World) -> np.ndarray:
    """P(reason | failed) per row: weight x exp(positive part of the family's share)."""
    scores = {r: 0.0 for r in FAILURE_REASONS}
    for fam, reason in REASON_OF_FAMILY.items():
        scores[reason] = scores[reason] + np.maximum(centred[fam], 0)
    raw = np.column_stack([w.reason_weights[r] * np.exp(2.0 * scores[r])
                           for r in FAILURE_REASONS])
    return raw / raw.sum(axis=1, keepdims=True)


def generate(n: int, seed: int = 0, *, world: World | None = None,
             with_truth: bool = False, start: str = "2023-01-01",
             end: str = "2026-10-31", shift: Shift | None = None,
             id_prefix: str = "C") -> pd.DataFrame:
    """Generate ``n`` finished campaigns with outcomes.

    Parameters
    ----------
    n : int
        Number of campaigns.
    seed : int
        Same seed, same rows.
    world : World, optional
        The true process; the documented base world by default.
    with_truth : bool
        Add ``true_failure_probability``, ``true_<family>`` (centred log-odds share) and
        ``true_factor_<factor>`` (each factor's interventional Shapley value of the true
        log-odds against the population, :func:`factor_shares`).
    start, end : str
        The range of ``completed_on`` (ISO dates, both included).
    shift : Shift, optional
        A moved world (later materials, lower budgets, another category mix, a changed
        base failure rate); none by default.
    id_prefix : str
        Campaign ids are ``<prefix><seed>-<row>``; another prefix keeps two files' ids apart.

    Examples
    --------
    >>> df = generate(5, seed=1, with_truth=True)
    >>> len(df), "true_delivery" in df
    (5, True)
    """
    w = world or World()
    shift = shift or NO_SHIFT
    rng = np.random.default_rng(seed)
    plans = _plans(n, rng, shift)
    terms = family_terms(plans, w)
    means = _family_means(w)
    centred = {k: v - means[k] for k, v in terms.items()}
    logit = w.intercept + shift.base_logit + sum(terms.values())
    prob = _sigmoid(logit)
    failed = rng.random(n) < prob
    reason_p = _reason_probabilities(centred, w)
    pick = (reason_p.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    reasons = np.where(failed, np.array(FAILURE_REASONS)[np.minimum(pick, 4)], None)
    days = (pd.Timestamp(end) - pd.Timestamp(start)).days
    completed = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days + 1, n), unit="D")

    df = pd.DataFrame({"campaign_id": [f"{id_prefix}{seed:04d}-{i:07d}" for i in range(n)]})
    for col in SCHEMA.feature_columns:
        values = plans[col.name]
        if col.kind == "boolean":
            values = pd.array(values, dtype="boolean")
        elif col.kind == "integer":
            values = pd.array(values, dtype="Float64").astype("Int64")
        df[col.name] = values
        if not col.required and col.name != "brand_avg_past_delay_days":
            # unknown at planning time; the truth still used the real value
            blank = rng.random(n) < w.missing_rate
            df.loc[blank, col.name] = None
    df["failed"] = failed
    df["failure_reason"] = pd.array(reasons, dtype="string")
    df["completed_on"] = completed.strftime("%Y-%m-%d")
    if with_truth:
        df["true_failure_probability"] = prob
        for fam in SCHEMA.families:
            df[f"true_{fam}"] = centred[fam]
        for name, share in factor_shares(plans, w).items():
            df[f"true_factor_{name}"] = share
    return df


def reason_split(df: pd.DataFrame) -> dict[str, float]:
    """Share of each recorded reason among failed campaigns."""
    r = df.loc[df["failed"].astype(bool), "failure_reason"].value_counts(normalize=True)
    return {k: float(r.get(k, 0.0)) for k in FAILURE_REASONS}


def calibrate_reason_weights(target: dict[str, float], n: int = 400_000,
                             world: World | None = None, rounds: int = 50) -> dict[str, float]:
    """Solve the reason weights so the expected split among failures equals ``target``."""
    w = world or World()
    rng = np.random.default_rng(0)
    plans = _plans(n, rng)
    terms = family_terms(plans, w)
    means = _family_means(w)
    centred = {k: v - means[k] for k, v in terms.items()}
    prob = _sigmoid(w.intercept + sum(terms.values()))
    weights = dict(w.reason_weights)
    for _ in range(rounds):
        p = _reason_probabilities(centred, replace(w, reason_weights=weights))
        share = (prob[:, None] * p).sum(axis=0) / prob.sum()
        for i, r in enumerate(FAILURE_REASONS):
            weights[r] *= target[r] / share[i]
        weights = {k: float(v) for k, v in weights.items()}
        norm = weights["goal_misalignment"]
        weights = {k: v / norm for k, v in weights.items()}
    return weights
