"""Human labels for the contract's columns, the model's factors and the factor families.

What a planner reads on the workbench, in the batch report and in the scored workbook
instead of ``material_delay_days`` or ``goal_alignment``. One table, here, for every place
that shows a name; a test holds it complete against :data:`riskmodel.SCHEMA` and
:data:`riskmodel.FACTORS`. Kept apart from the contract's :class:`Column` on purpose: the
column definitions are part of every model artifact's recorded schema, and a new field
there would make the shipped models refuse to load.
"""

from __future__ import annotations

from riskmodel.features import BUDGET_RATIO
from riskmodel.i18n import N_, format_share, format_usd, gettext

LABELS: dict[str, str] = {
    "campaign_id": N_("Campaign"),
    "marketplace": N_("Marketplace"),
    "category": N_("Product category"),
    "campaign_type": N_("Placement"),
    "duration_days": N_("Duration (days)"),
    "goal_alignment_score": N_("KPI targets agreed in writing"),
    "mou_signed": N_("MOU signed before kickoff"),
    "dedicated_contact": N_("One named owner at the brand"),
    "weekly_sync": N_("Weekly progress sync"),
    "material_delay_days": N_("Creative materials late by (days)"),
    "brand_avg_past_delay_days": N_("Brand's past lateness (days)"),
    "custom_video_required": N_("Custom HD video to produce"),
    "resource_value_usd": N_("Value of Amazon's placements ($)"),
    "committed_ad_budget_usd": N_("Committed ad budget ($)"),
    BUDGET_RATIO: N_("Ad budget vs placement value"),
    "attribution_enabled": N_("Amazon Attribution live"),
    "utm_configured": N_("UTM parameters set"),
    "brand_analytics_active": N_("Brand Analytics in use"),
    "annual_sales_usd": N_("Trailing-12-month sales ($)"),
    "bsr_top100_products": N_("Products in a BSR top 100"),
    "monthly_ad_spend_usd": N_("Monthly ad spend ($)"),
    "has_a_plus_content": N_("A+ pages complete"),
    "has_video_main_image": N_("Video main image"),
    "prior_coop_campaigns": N_("Earlier co-op campaigns"),
    "failed": N_("Failed"),
    "failure_reason": N_("Failure reason"),
    "completed_on": N_("Completed on"),
}

FAMILY_LABELS: dict[str, str] = {
    "goal_alignment": N_("Goal alignment"),
    "delivery": N_("Delivery of materials"),
    "budget_match": N_("Budget match"),
    "attribution_readiness": N_("Attribution readiness"),
    "brand_strength": N_("Brand strength"),
    "campaign_context": N_("Campaign context"),
}

# Category values as a planner writes them (the contract's codes are snake_case)
VALUE_LABELS: dict[str, str] = {
    "home": N_("Home"),
    "consumer_electronics": N_("Consumer electronics"),
    "health_personal_care": N_("Health & personal care"),
    "pet_smart_devices": N_("Pet smart devices"),
    "beauty": N_("Beauty"),
    "sports_outdoors": N_("Sports & outdoors"),
    "toys_games": N_("Toys & games"),
    "other": N_("Other"),
    "sponsored_brands_video": N_("Sponsored Brands video"),
    "deal_of_the_day": N_("Deal of the Day"),
    "lightning_deal": N_("Lightning Deal"),
    "prime_member_discount": N_("Prime member discount"),
    "search_top_banner": N_("Banner above search results"),
    "app_push": N_("App push notification"),
    "editorial_placement": N_("Editorial placement"),
    "offsite_attribution_rebate": N_("Off-site attribution rebate"),
}

# Marketplaces by name, for the languages that do not read the store's code (English does:
# VALUE_LABELS leaves the codes as they are)
MARKETPLACE_NAMES: dict[str, str] = {
    "US": N_("Amazon US"), "CA": N_("Amazon Canada"), "MX": N_("Amazon Mexico"),
    "BR": N_("Amazon Brazil"), "UK": N_("Amazon UK"), "DE": N_("Amazon Germany"),
    "FR": N_("Amazon France"), "IT": N_("Amazon Italy"), "ES": N_("Amazon Spain"),
    "NL": N_("Amazon Netherlands"), "SE": N_("Amazon Sweden"), "PL": N_("Amazon Poland"),
    "JP": N_("Amazon Japan"), "AU": N_("Amazon Australia"), "IN": N_("Amazon India"),
}

# Readiness warning codes (riskmodel.WARNING_CODES) in a few words, for lists and cells
WARNING_LABELS: dict[str, str] = {
    "sales_below_threshold": N_("sales below the co-op threshold"),
    "few_bsr_products": N_("fewer than 3 BSR top-100 products"),
    "no_a_plus_content": N_("A+ pages incomplete"),
    "no_video_main_image": N_("no video main image"),
    "brand_analytics_not_used": N_("Brand Analytics not in use"),
    "ad_spend_below_5000": N_("monthly ad spend under {ad_floor}"),
    "budget_ratio_below_0_2": N_("ad budget under {floor} of the placements' value"),
}


# Out-of-depth codes (riskmodel.coverage) in a few words, for lists and cells
OUT_OF_DEPTH_LABELS: dict[str, str] = {
    "beyond_training_range": N_("beyond the training range"),
    "rare_level": N_("rarely seen in training"),
    "rarely_unknown": N_("rarely unknown in training"),
}


# How training sets the risk bands, as its manifest records it (``bands.rule``)
BAND_RULE = N_("medium from the validation failure rate; high from the 80th percentile of "
               "validation risk")


def band_rule(rule: str, locale: str = "en") -> str:
    """A manifest's ``bands.rule`` in ``locale``: :data:`BAND_RULE` translated; any other
    wording (a version trained by other code) as written."""
    return gettext(locale, rule) if rule == BAND_RULE else rule


def label(name: str, locale: str = "en") -> str:
    """The human label of a column or factor (the name itself if it has none), in
    ``locale``."""
    text = LABELS.get(name)
    return name if text is None else gettext(locale, text)


def family_label(family: str, locale: str = "en") -> str:
    """The human label of a factor family (the name itself if it has none), in ``locale``."""
    text = FAMILY_LABELS.get(family)
    return family if text is None else gettext(locale, text)


def value_label(value: str, locale: str = "en") -> str:
    """A category value as a planner writes it, in ``locale`` (the value itself if it has no
    label; a marketplace's code in English, its name in other languages)."""
    text = VALUE_LABELS.get(value)
    if text is None:
        text = MARKETPLACE_NAMES.get(value) if locale != "en" else None
        if text is None:
            return value
    return gettext(locale, text)


def warning_label(code: str, locale: str = "en") -> str:
    """A readiness warning code in a few words, in ``locale``."""
    text = WARNING_LABELS.get(code)
    if text is None:
        return code.replace("_", " ")
    return gettext(locale, text).format(floor=format_share(0.2, locale),
                                        ad_floor=format_usd(5_000, locale))


def out_of_depth_label(code: str, locale: str = "en") -> str:
    """An out-of-depth code (riskmodel.coverage) in a few words, in ``locale``."""
    text = OUT_OF_DEPTH_LABELS.get(code)
    return code.replace("_", " ") if text is None else gettext(locale, text)


def messages() -> list[str]:
    """Every message of this module's catalog (the tests check each is translated)."""
    tables = (LABELS, FAMILY_LABELS, VALUE_LABELS, MARKETPLACE_NAMES, WARNING_LABELS,
              OUT_OF_DEPTH_LABELS)
    return list(dict.fromkeys([*(m for table in tables for m in table.values()), BAND_RULE]))
