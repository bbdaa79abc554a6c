"""The data contract of ``shared/DOMAIN.md`` as one object.

Everything that needs a column name, a type, a range, the allowed categories or a factor
family derives it from :data:`SCHEMA`: validation, features, training, the OpenAPI document,
the batch reader, the docs table and the tests. No second list of column names exists.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


def N_(message: str) -> str:  # noqa: N802
    """Mark a description for the catalog (riskmodel.i18n.N_; kept here so that the
    contract, imported by everything, imports nothing)."""
    return message

MARKETPLACES = ("US", "CA", "MX", "BR", "UK", "DE", "FR", "IT", "ES", "NL", "SE", "PL", "JP",
                "AU", "IN")
NORTH_AMERICA = ("US", "CA", "MX")
EUROPE = ("UK", "DE", "FR", "IT", "ES", "NL", "SE", "PL")
CATEGORIES = ("home", "consumer_electronics", "health_personal_care", "pet_smart_devices",
              "beauty", "sports_outdoors", "toys_games", "other")
CAMPAIGN_TYPES = ("sponsored_brands_video", "deal_of_the_day", "lightning_deal",
                  "prime_member_discount", "search_top_banner", "app_push",
                  "editorial_placement", "offsite_attribution_rebate")
FAILURE_REASONS = ("goal_misalignment", "material_delay", "budget_shortfall", "attribution_gap",
                   "other")

FAMILIES = ("goal_alignment", "delivery", "budget_match", "attribution_readiness",
            "brand_strength", "campaign_context")


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``kind`` is one of ``string``, ``category``, ``integer``, ``number``, ``boolean``, ``date``.
    ``minimum``/``maximum`` are inclusive bounds; ``exclusive_minimum`` marks ``> minimum``.
    """

    name: str
    kind: str
    description: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    categories: tuple[str, ...] = ()
    family: str | None = None
    max_length: int | None = None

    def allowed(self) -> str:
        """Describe the valid values in words, for error messages and docs."""
        if self.kind == "category":
            return "one of " + ", ".join(self.categories)
        if self.kind == "boolean":
            return "true or false (or empty)"
        if self.kind == "string":
            return f"1-{self.max_length} printable characters"
        if self.kind == "date":
            return "an ISO 8601 date (YYYY-MM-DD)"
        word = "an integer" if self.kind == "integer" else "a number"
        if self.minimum is not None and self.maximum is not None:
            return f"{word} from {_fmt(self.minimum)} to {_fmt(self.maximum)}"
        if self.minimum is not None:
            op = ">" if self.exclusive_minimum else "≥"
            return f"{word} {op} {_fmt(self.minimum)}"
        return word

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class Schema:
    """The contract: plan columns, outcome columns and factor families."""

    columns: tuple[Column, ...]
    outcome_columns: tuple[Column, ...]
    families: tuple[str, ...] = FAMILIES
    id_column: str = "campaign_id"
    label_column: str = "failed"
    reason_column: str = "failure_reason"
    date_column: str = "completed_on"
    version: str = "1"
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for c in self.columns + self.outcome_columns:
            self._index.setdefault(c.name, c)

    def __getitem__(self, name: str) -> Column:
        return self._index[name]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    @property
    def names(self) -> tuple[str, ...]:
        """Plan column names, in contract order."""
        return tuple(c.name for c in self.columns)

    @property
    def feature_columns(self) -> tuple[Column, ...]:
        """Plan columns that describe the campaign (all but the id)."""
        return tuple(c for c in self.columns if c.name != self.id_column)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def family_of(self, name: str) -> str | None:
        return self._index[name].family

    def columns_of(self, family: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.family == family)

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "columns": [c.to_dict() for c in self.columns],
            "outcome_columns": [c.to_dict() for c in self.outcome_columns],
            "families": {f: list(self.columns_of(f)) for f in self.families},
        }

    def fingerprint(self) -> str:
        """SHA-256 of the contract, stable across runs."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def _c(name, kind, description, **kw) -> Column:
    return Column(name=name, kind=kind, description=description, **kw)


SCHEMA = Schema(
    columns=(
        _c("campaign_id", "string", N_("Unique id of the planned campaign."), required=True,
           max_length=128),
        _c("marketplace", "category", N_("Amazon store."), categories=MARKETPLACES,
           family="campaign_context"),
        _c("category", "category", N_("Product category."), categories=CATEGORIES,
           family="campaign_context"),
        _c("campaign_type", "category", N_("The co-op placement."), categories=CAMPAIGN_TYPES,
           family="campaign_context"),
        _c("duration_days", "integer", N_("Planned length in days."), minimum=1, maximum=120,
           family="campaign_context"),
        _c("goal_alignment_score", "number",
           N_("Share of the campaign's KPI targets that brand and AM agreed in writing."),
           required=True, minimum=0, maximum=1, family="goal_alignment"),
        _c("mou_signed", "boolean",
           N_("MOU with responsibilities and dates signed before kickoff."),
           family="goal_alignment"),
        _c("dedicated_contact", "boolean", N_("The brand named one owner for the campaign."),
           family="delivery"),
        _c("weekly_sync", "boolean", N_("A weekly progress sync is scheduled."), family="delivery"),
        _c("material_delay_days", "number",
           N_("Expected days the creative materials arrive after the agreed deadline; "
           "negative = early."), required=True, minimum=-60, maximum=180, family="delivery"),
        _c("brand_avg_past_delay_days", "number",
           N_("The brand's average lateness on earlier deliveries; empty for a brand with no "
           "history."), minimum=-60, maximum=180, family="delivery"),
        _c("custom_video_required", "boolean", N_("Custom high-definition video must be produced."),
           family="delivery"),
        _c("resource_value_usd", "number", N_("Value of the placements Amazon contributes."),
           required=True, minimum=0, exclusive_minimum=True, family="budget_match"),
        _c("committed_ad_budget_usd", "number", N_("Ad budget the brand commits alongside."),
           required=True, minimum=0, family="budget_match"),
        _c("attribution_enabled", "boolean", N_("Amazon Attribution tags live before launch."),
           family="attribution_readiness"),
        _c("utm_configured", "boolean", N_("UTM parameters set on every off-Amazon link."),
           family="attribution_readiness"),
        _c("brand_analytics_active", "boolean", N_("The brand uses Brand Analytics."),
           family="attribution_readiness"),
        _c("annual_sales_usd", "number", N_("Trailing-12-month brand sales."), minimum=0,
           family="brand_strength"),
        _c("bsr_top100_products", "integer", N_("Products in a Best Sellers Rank top 100."),
           minimum=0, family="brand_strength"),
        _c("monthly_ad_spend_usd", "number", N_("Average monthly ad spend."), minimum=0,
           family="brand_strength"),
        _c("has_a_plus_content", "boolean", N_("Complete A+ pages."), family="brand_strength"),
        _c("has_video_main_image", "boolean", N_("Video main image."), family="brand_strength"),
        _c("prior_coop_campaigns", "integer", N_("Co-op campaigns the brand ran before."),
           minimum=0, family="brand_strength"),
    ),
    outcome_columns=(
        _c("failed", "boolean", N_("The campaign missed its agreed KPIs or was cancelled."),
           required=True),
        _c("failure_reason", "category", N_("Recorded cause of a failure; may be empty."),
           categories=FAILURE_REASONS),
        _c("completed_on", "date", "When the outcome was known (ISO 8601)."),
    ),
)
