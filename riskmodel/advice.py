"""What a planner reads: reasons, mitigations, what-if targets and readiness warnings.

The advice is the source's (shared/DOMAIN.md, "What the seed recommends"); the thresholds of
the readiness warnings are the source's participation criteria. Pure data and functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskmodel._fast import constructor
from riskmodel.contract import EUROPE, MARKETPLACES, NORTH_AMERICA, SCHEMA
from riskmodel.features import BUDGET_RATIO

ESCALATION = ("If the campaign runs into trouble: contact the AM first, open a Seller Central "
              "case marked \"Co-op Campaign Issue\", escalate to the regional director after "
              "48 hours without an answer, and keep every record.")

# The source gives Europe's threshold in euros; annual_sales_usd is in dollars. Our
# assumption, documented in docs/scoring.md: 1 EUR = 1.10 USD.
USD_PER_EUR = 1.10
BUDGET_TARGET = 0.3  # the source: 20-50% typical, $3,000-5,000 per $10,000: aim at 30%


@dataclass(frozen=True)
class Target:
    """Where a factor's input goes if the brand acts: to a value (``set``), or no higher
    (``at_most``) or no lower (``at_least``) than it. ``set`` applies to an unknown input
    too; the bounds leave an unknown unknown. Callable on arrays and on plain floats."""

    kind: str  # "set" | "at_most" | "at_least"
    value: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "set":
            return np.full_like(x, self.value, dtype=float)
        return (np.minimum if self.kind == "at_most" else np.maximum)(x, self.value)

    def one(self, x: float) -> float:
        if self.kind == "set":
            return self.value
        if x != x:
            return x
        return min(x, self.value) if self.kind == "at_most" else max(x, self.value)


@dataclass(frozen=True)
class Advice:
    """How to talk about one factor that raises risk, and the what-if target if the brand
    can act on it. ``target(x)`` maps the factor's input to its value at the target."""

    reason: Callable[[object], str]
    mitigation: str | None = None
    target: Target | None = None
    target_label: str | None = None
    # A hint for formatting many reasons at once: inputs that round to the same multiple
    # of 1 / reason_step read the same (the reason shows them rounded). Batch scoring
    # checks the hint on each group's extremes before trusting it.
    reason_step: float | None = None

    @property
    def actionable(self) -> bool:
        return self.target is not None


_yes = Target("set", 1.0)  # level code 1 = "true"


def _bool_reason(what: str) -> Callable[[object], str]:
    def reason(v: object) -> str:
        if v is None:
            return f"it is not known whether {what}"
        return f"{what}: {'yes' if v else 'no'}"
    return reason


def _num_reason(template: str, unknown: str) -> Callable[[object], str]:
    def reason(v: object) -> str:
        return unknown if v is None else template.format(v=v)
    return reason


def _level_reason(label: str) -> Callable[[object], str]:
    return lambda v: f"{label} {v}" if v is not None else f"{label} not given"


ADVICE: dict[str, Advice] = {
    "goal_alignment_score": Advice(
        _num_reason("only {v:.0%} of the KPI targets are agreed with the AM in writing",
                    "the share of KPI targets agreed in writing is not known"),
        "Agree every KPI target (incremental-sales share, new-customer CAC, brand-search "
        "growth, ROI) with the AM in writing before kickoff, in the MOU.",
        Target("set", 1.0), "all KPI targets agreed in writing", reason_step=100),
    "mou_signed": Advice(
        _bool_reason("an MOU with responsibilities and dates is signed before kickoff"),
        "Sign an MOU before kickoff that sets each side's responsibilities and dates.",
        _yes, "MOU signed before kickoff"),
    "material_delay_days": Advice(
        _num_reason("creative materials are expected {v:g} days after the deadline",
                    "when the creative materials arrive is not known"),
        "Name one owner for the creative materials, hold a weekly progress sync, and put the "
        "delivery dates in the MOU so the assets arrive by the deadline.",
        Target("at_most", 0.0), "materials on time"),
    "brand_avg_past_delay_days": Advice(
        _num_reason("the brand's earlier deliveries were {v:g} days late on average",
                    "the brand has no delivery record with co-op campaigns"),
        "Set the internal asset deadline ahead of the AM's by the brand's usual lateness."),
    "custom_video_required": Advice(
        _bool_reason("custom high-definition video must be produced"),
        "Start the video production now, or reuse an existing video, so it is not the "
        "asset that arrives late.", Target("set", 0.0), "no custom video to produce"),
    "dedicated_contact": Advice(
        _bool_reason("the brand named one owner for the campaign"),
        "Name one dedicated owner on the brand's side.", _yes, "one named owner"),
    "weekly_sync": Advice(
        _bool_reason("a weekly progress sync is scheduled"),
        "Schedule a weekly progress sync with the AM.", _yes, "weekly sync scheduled"),
    BUDGET_RATIO: Advice(
        _num_reason("the committed ad budget is {v:.0%} of the placements' value",
                    "the budget match is not known"),
        "Bring the ad budget to 30-50% of the value of Amazon's resources: $3,000-5,000 of "
        "ad spend for every $10,000 of resource value.",
        Target("at_least", BUDGET_TARGET), f"budget at {BUDGET_TARGET:.0%} of value",
        reason_step=100),
    "attribution_enabled": Advice(
        _bool_reason("Amazon Attribution tags are live before launch"),
        "Deploy Amazon Attribution before launch so the campaign's real contribution can be "
        "measured (the most overlooked step).", _yes, "Amazon Attribution live"),
    "utm_configured": Advice(
        _bool_reason("UTM parameters are set on every off-Amazon link"),
        "Set UTM parameters on every off-Amazon link before launch.", _yes,
        "UTM parameters set"),
    "brand_analytics_active": Advice(
        _bool_reason("the brand uses Brand Analytics"),
        "Start using Brand Analytics to track brand-search growth.", _yes,
        "Brand Analytics in use"),
    "has_a_plus_content": Advice(
        _bool_reason("the A+ pages are complete"), "Complete the A+ pages before launch.",
        _yes, "A+ pages complete"),
    "has_video_main_image": Advice(
        _bool_reason("the listing has a video main image"),
        "Add a video main image before launch.", _yes, "video main image added"),
    "annual_sales_usd": Advice(_num_reason("trailing-12-month sales are ${v:,.0f}",
                                           "trailing-12-month sales are not known"),
                               reason_step=1),
    "bsr_top100_products": Advice(_num_reason("{v:g} products are in a BSR top 100",
                                              "BSR top-100 products are not known")),
    "monthly_ad_spend_usd": Advice(_num_reason("monthly ad spend is ${v:,.0f}",
                                               "monthly ad spend is not known"),
                                   reason_step=1),
    "prior_coop_campaigns": Advice(_num_reason("{v:g} earlier co-op campaigns",
                                               "earlier co-op campaigns are not known")),
    "marketplace": Advice(_level_reason("marketplace")),
    "category": Advice(_level_reason("category")),
    "campaign_type": Advice(_level_reason("placement")),
    "duration_days": Advice(_num_reason("planned for {v:g} days", "duration not given")),
}


@dataclass(frozen=True)
class ReadinessWarning:
    """An eligibility or readiness gap from the source's criteria (not a model factor)."""

    code: str
    column: str
    message: str
    threshold: str
    value: object


_NA = np.array([m in NORTH_AMERICA for m in MARKETPLACES] + [False])  # [-1]: unknown
_EU = np.array([m in EUROPE for m in MARKETPLACES] + [False])
_NA_LIST, _EU_LIST = _NA.tolist(), _EU.tolist()
_EU_SALES = 400_000 * USD_PER_EUR


def readiness_flags(cols: dict) -> dict:
    """Which warnings apply: boolean arrays over typed columns, or booleans over one
    campaign's plain values (the same comparisons serve both). Unknown (NaN) never warns."""
    market = cols["marketplace"]
    sales = cols["annual_sales_usd"]
    budget, resource = cols["committed_ad_budget_usd"], cols["resource_value_usd"]
    if isinstance(budget, np.ndarray):
        with np.errstate(over="ignore"):  # a tiny resource value makes an infinite ratio
            ratio = budget / resource
        below = (_NA[market] & (sales < 600_000)) | (_EU[market] & (sales < _EU_SALES))
    else:  # plain values: the same comparisons in plain Python, no numpy per call
        ratio = float(budget) / float(resource)
        below = (_NA_LIST[market] and sales < 600_000) or (_EU_LIST[market]
                                                          and sales < _EU_SALES)
    return {
        "sales_below_threshold": below,
        "few_bsr_products": cols["bsr_top100_products"] < 3,
        "no_a_plus_content": cols["has_a_plus_content"] == 0.0,
        "no_video_main_image": cols["has_video_main_image"] == 0.0,
        "brand_analytics_not_used": cols["brand_analytics_active"] == 0.0,
        "ad_spend_below_5000": cols["monthly_ad_spend_usd"] < 5000,
        "budget_ratio_below_0_2": ratio < 0.2,
    }


# warning code: (column, threshold, message) for every warning but the sales threshold
_WARNINGS = {
    "few_bsr_products": ("bsr_top100_products", "at least 3 products in a BSR top 100",
                         "Fewer than 3 products are in a BSR top 100."),
    "no_a_plus_content": ("has_a_plus_content", "complete A+ pages",
                          "The A+ pages are not complete."),
    "no_video_main_image": ("has_video_main_image", "a video main image",
                            "The listing has no video main image."),
    "brand_analytics_not_used": ("brand_analytics_active", "Brand Analytics in use",
                                 "Brand Analytics is not in use."),
    "ad_spend_below_5000": ("monthly_ad_spend_usd", "about $5,000 a month or more",
                            "Monthly ad spend is under $5,000."),
    "budget_ratio_below_0_2": ("committed_ad_budget_usd",
                               "an ad budget of at least 20% of the resource value",
                               "The committed ad budget is under 20% of the value of "
                               "Amazon's resources."),
}


WARNING_CODES = ("sales_below_threshold", *_WARNINGS)  # in the order readiness_flags gives


# code: (column, threshold, message, whether the value is a yes/no) of every warning
_ABOUT = {code: (column, threshold, message, SCHEMA[column].kind == "boolean")
          for code, (column, threshold, message) in _WARNINGS.items()}
_new_warning = constructor(ReadinessWarning)


def readiness_warning(code: str, row: Mapping[str, Any]) -> ReadinessWarning:
    """Describe warning ``code`` for one campaign given as typed values by column."""
    if code == "sales_below_threshold":
        market = MARKETPLACES[int(row["marketplace"])]
        if market in NORTH_AMERICA:
            limit = "$600,000 in a North American store"
        else:
            limit = f"€400,000 (${400_000 * USD_PER_EUR:,.0f}) in a European store"
        sales = _plain(row["annual_sales_usd"])
        return _new_warning(code, "annual_sales_usd", f"Trailing-12-month sales of "
                            f"${sales:,.0f} are below the co-op threshold of {limit}.",
                            limit, sales)
    column, threshold, message, yes_no = _ABOUT[code]
    value = row[column]
    if value.__class__ is not float:  # a numpy number from a batch
        value = _plain(value)
    elif value != value:
        value = None
    return _new_warning(code, column, message, threshold,
                        bool(value) if yes_no and value is not None else value)


def _plain(x: object) -> object:
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and x != x:
        return None
    return x



# ---------------------------------------------------------------- out of the model's depth
# (riskmodel.coverage flags them; the words are here, beside the other planner-facing texts)

OUT_OF_DEPTH_CODES = ("beyond_training_range", "rare_level", "rarely_unknown")


def out_of_depth_message(code: str, factor: str, value: object,
                         training_range: tuple[float, float] | None, count: int) -> str:
    """What a planner reads when a factor lies where the model has little or no data."""
    if code == "beyond_training_range" and training_range is not None:
        low, high = training_range
        return (f"{factor} = {value:g} lies beyond the range the model was trained on "
                f"({low:g} to {high:g}, {count:,} campaigns): the model's curve is flat "
                "there and its estimate is an extrapolation.")
    if code == "rare_level":
        return (f"{factor} = {value} was seen in only {count:,} training campaigns: the "
                "model knows little about it.")
    return (f"{factor} is unknown here, but was unknown in only {count:,} training "
            "campaigns: the model knows little about campaigns without it.")
