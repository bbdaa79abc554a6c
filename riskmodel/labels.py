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

LABELS: dict[str, str] = {
    "campaign_id": "Campaign",
    "marketplace": "Marketplace",
    "category": "Product category",
    "campaign_type": "Placement",
    "duration_days": "Duration (days)",
    "goal_alignment_score": "KPI targets agreed in writing",
    "mou_signed": "MOU signed before kickoff",
    "dedicated_contact": "One named owner at the brand",
    "weekly_sync": "Weekly progress sync",
    "material_delay_days": "Creative materials late by (days)",
    "brand_avg_past_delay_days": "Brand's past lateness (days)",
    "custom_video_required": "Custom HD video to produce",
    "resource_value_usd": "Value of Amazon's placements ($)",
    "committed_ad_budget_usd": "Committed ad budget ($)",
    BUDGET_RATIO: "Ad budget vs placement value",
    "attribution_enabled": "Amazon Attribution live",
    "utm_configured": "UTM parameters set",
    "brand_analytics_active": "Brand Analytics in use",
    "annual_sales_usd": "Trailing-12-month sales ($)",
    "bsr_top100_products": "Products in a BSR top 100",
    "monthly_ad_spend_usd": "Monthly ad spend ($)",
    "has_a_plus_content": "A+ pages complete",
    "has_video_main_image": "Video main image",
    "prior_coop_campaigns": "Earlier co-op campaigns",
    "failed": "Failed",
    "failure_reason": "Failure reason",
    "completed_on": "Completed on",
}

FAMILY_LABELS: dict[str, str] = {
    "goal_alignment": "Goal alignment",
    "delivery": "Delivery of materials",
    "budget_match": "Budget match",
    "attribution_readiness": "Attribution readiness",
    "brand_strength": "Brand strength",
    "campaign_context": "Campaign context",
}

# Category values as a planner writes them (the contract's codes are snake_case)
VALUE_LABELS: dict[str, str] = {
    "home": "Home", "consumer_electronics": "Consumer electronics",
    "health_personal_care": "Health & personal care", "pet_smart_devices": "Pet smart devices",
    "beauty": "Beauty", "sports_outdoors": "Sports & outdoors", "toys_games": "Toys & games",
    "other": "Other",
    "sponsored_brands_video": "Sponsored Brands video", "deal_of_the_day": "Deal of the Day",
    "lightning_deal": "Lightning Deal", "prime_member_discount": "Prime member discount",
    "search_top_banner": "Banner above search results", "app_push": "App push notification",
    "editorial_placement": "Editorial placement",
    "offsite_attribution_rebate": "Off-site attribution rebate",
}

# Readiness warning codes (riskmodel.WARNING_CODES) in a few words, for lists and cells
WARNING_LABELS: dict[str, str] = {
    "sales_below_threshold": "sales below the co-op threshold",
    "few_bsr_products": "fewer than 3 BSR top-100 products",
    "no_a_plus_content": "A+ pages incomplete",
    "no_video_main_image": "no video main image",
    "brand_analytics_not_used": "Brand Analytics not in use",
    "ad_spend_below_5000": "monthly ad spend under $5,000",
    "budget_ratio_below_0_2": "ad budget under 20% of the placements' value",
}


# Out-of-depth codes (riskmodel.coverage) in a few words, for lists and cells
OUT_OF_DEPTH_LABELS: dict[str, str] = {
    "beyond_training_range": "beyond the training range",
    "rare_level": "rarely seen in training",
    "rarely_unknown": "rarely unknown in training",
}


def label(name: str) -> str:
    """The human label of a column or factor (the name itself if it has none)."""
    return LABELS.get(name, name)


def family_label(family: str) -> str:
    """The human label of a factor family (the name itself if it has none)."""
    return FAMILY_LABELS.get(family, family)
