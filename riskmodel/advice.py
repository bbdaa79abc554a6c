"""What a planner reads: reasons, mitigations, what-if targets and readiness warnings.

The advice is the source's (shared/DOMAIN.md, "What the seed recommends"); the thresholds of
the readiness warnings are the source's participation criteria. Pure data and functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from riskmodel._fast import constructor
from riskmodel.contract import EUROPE, MARKETPLACES, NORTH_AMERICA, SCHEMA
from riskmodel.features import BUDGET_RATIO
from riskmodel.i18n import N_, format_eur, format_number, format_share, format_usd, gettext
from riskmodel.labels import label, value_label

ESCALATION = N_("If the campaign runs into trouble: contact the AM first, open a Seller "
                "Central case marked \"Co-op Campaign Issue\", escalate to the regional "
                "director after 48 hours without an answer, and keep every record.")


@cache
def figures(locale: str) -> dict[str, str]:
    """The source's figures that the advice quotes, formatted for ``locale`` by Babel."""
    return {"target": format_share(BUDGET_TARGET, locale),
            "band_low": format_share(0.3, locale), "band_high": format_share(0.5, locale),
            "floor": format_share(0.2, locale), "spend_low": format_usd(3_000, locale),
            "spend_high": format_usd(5_000, locale), "per_value": format_usd(10_000, locale),
            "ad_floor": format_usd(5_000, locale)}


def say(message: str, locale: str = "en") -> str:
    """An advice text (a mitigation, a target, a warning) in ``locale``, with the source's
    figures formatted for it."""
    return gettext(locale, message).format_map(figures(locale))


def advice_text(message: str, locale: str = "en") -> str:
    """A text of :data:`ADVICE` (a mitigation, a what-if target) as a planner reads it in
    ``locale``."""
    return say(message, locale)


def escalation(locale: str = "en") -> str:
    """The escalation path of a high-risk campaign, in ``locale``."""
    return gettext(locale, ESCALATION)


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


class Reason:
    """How a factor's value reads in a reason: callable on the value as the planner wrote
    it (English); :meth:`localized` gives the same function for another locale."""

    def __call__(self, v: object) -> str:
        return self.localized("en")(v)

    def localized(self, locale: str) -> Callable[[object], str]:
        raise NotImplementedError

    def messages(self) -> tuple[str, ...]:
        """The catalog's messages this reason reads (for the tests of the catalogs)."""
        raise NotImplementedError


_FORMATS: dict[str, Callable[[float, str], str]] = {
    "share": format_share, "number": format_number, "usd": format_usd}


class _NumReason(Reason):
    def __init__(self, template: str, unknown: str, kind: str) -> None:
        self.template, self.unknown, self.kind = template, unknown, kind

    def localized(self, locale: str) -> Callable[[object], str]:
        template, unknown = gettext(locale, self.template), gettext(locale, self.unknown)
        fmt = _FORMATS[self.kind]

        def reason(v: object) -> str:
            return unknown if v is None else template.format(v=fmt(v, locale))  # type: ignore[arg-type]
        return reason

    def messages(self) -> tuple[str, ...]:
        return self.template, self.unknown


_YES, _NO, _UNKNOWN = N_("{what}: yes"), N_("{what}: no"), N_("it is not known whether {what}")


class _BoolReason(Reason):
    def __init__(self, what: str) -> None:
        self.what = what

    def localized(self, locale: str) -> Callable[[object], str]:
        what = gettext(locale, self.what)
        yes, no, unknown = (gettext(locale, m).format(what=what) for m in (_YES, _NO, _UNKNOWN))

        def reason(v: object) -> str:
            return unknown if v is None else yes if v else no
        return reason

    def messages(self) -> tuple[str, ...]:
        return self.what, _YES, _NO, _UNKNOWN


_LEVEL, _LEVEL_UNKNOWN = N_("{label} {value}"), N_("{label} not given")


class _LevelReason(Reason):
    def __init__(self, label: str) -> None:
        self.label = label

    def localized(self, locale: str) -> Callable[[object], str]:
        label = gettext(locale, self.label)
        template = gettext(locale, _LEVEL)
        unknown = gettext(locale, _LEVEL_UNKNOWN).format(label=label)
        if locale == "en":  # the contract's code, as the planner wrote it
            def reason(v: object) -> str:
                return unknown if v is None else template.format(label=label, value=v)
            return reason

        def localized(v: object) -> str:
            return unknown if v is None else template.format(
                label=label, value=value_label(str(v), locale))
        return localized

    def messages(self) -> tuple[str, ...]:
        return self.label, _LEVEL, _LEVEL_UNKNOWN


@dataclass(frozen=True)
class Advice:
    """How to talk about one factor that raises risk, and the what-if target if the brand
    can act on it. ``target(x)`` maps the factor's input to its value at the target."""

    reason: Reason
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


def _bool_reason(what: str) -> Reason:
    return _BoolReason(what)


def _num_reason(template: str, unknown: str, kind: str = "number") -> Reason:
    return _NumReason(template, unknown, kind)


def _level_reason(label: str) -> Reason:
    return _LevelReason(label)


ADVICE: dict[str, Advice] = {
    "goal_alignment_score": Advice(
        _num_reason(N_("only {v} of the KPI targets are agreed with the AM in writing"),
                    N_("the share of KPI targets agreed in writing is not known"), "share"),
        N_("Agree every KPI target (incremental-sales share, new-customer CAC, brand-search "
           "growth, ROI) with the AM in writing before kickoff, in the MOU."),
        Target("set", 1.0), N_("all KPI targets agreed in writing"), reason_step=100),
    "mou_signed": Advice(
        _bool_reason(N_("an MOU with responsibilities and dates is signed before kickoff")),
        N_("Sign an MOU before kickoff that sets each side's responsibilities and dates."),
        _yes, N_("MOU signed before kickoff")),
    "material_delay_days": Advice(
        _num_reason(N_("creative materials are expected {v} days after the deadline"),
                    N_("when the creative materials arrive is not known")),
        N_("Name one owner for the creative materials, hold a weekly progress sync, and put "
           "the delivery dates in the MOU so the assets arrive by the deadline."),
        Target("at_most", 0.0), N_("materials on time")),
    "brand_avg_past_delay_days": Advice(
        _num_reason(N_("the brand's earlier deliveries were {v} days late on average"),
                    N_("the brand has no delivery record with co-op campaigns")),
        N_("Set the internal asset deadline ahead of the AM's by the brand's usual lateness.")),
    "custom_video_required": Advice(
        _bool_reason(N_("custom high-definition video must be produced")),
        N_("Start the video production now, or reuse an existing video, so it is not the "
           "asset that arrives late."), Target("set", 0.0), N_("no custom video to produce")),
    "dedicated_contact": Advice(
        _bool_reason(N_("the brand named one owner for the campaign")),
        N_("Name one dedicated owner on the brand's side."), _yes, N_("one named owner")),
    "weekly_sync": Advice(
        _bool_reason(N_("a weekly progress sync is scheduled")),
        N_("Schedule a weekly progress sync with the AM."), _yes, N_("weekly sync scheduled")),
    BUDGET_RATIO: Advice(
        _num_reason(N_("the committed ad budget is {v} of the placements' value"),
                    N_("the budget match is not known"), "share"),
        N_("Bring the ad budget to {band_low}-{band_high} of the value of Amazon's resources: "
           "{spend_low}-{spend_high} of ad spend for every {per_value} of resource value."),
        Target("at_least", BUDGET_TARGET), N_("budget at {target} of value"),
        reason_step=100),
    "attribution_enabled": Advice(
        _bool_reason(N_("Amazon Attribution tags are live before launch")),
        N_("Deploy Amazon Attribution before launch so the campaign's real contribution can "
           "be measured (the most overlooked step)."), _yes, N_("Amazon Attribution live")),
    "utm_configured": Advice(
        _bool_reason(N_("UTM parameters are set on every off-Amazon link")),
        N_("Set UTM parameters on every off-Amazon link before launch."), _yes,
        N_("UTM parameters set")),
    "brand_analytics_active": Advice(
        _bool_reason(N_("the brand uses Brand Analytics")),
        N_("Start using Brand Analytics to track brand-search growth."), _yes,
        N_("Brand Analytics in use")),
    "has_a_plus_content": Advice(
        _bool_reason(N_("the A+ pages are complete")), N_("Complete the A+ pages before launch."),
        _yes, N_("A+ pages complete")),
    "has_video_main_image": Advice(
        _bool_reason(N_("the listing has a video main image")),
        N_("Add a video main image before launch."), _yes, N_("video main image added")),
    "annual_sales_usd": Advice(_num_reason(N_("trailing-12-month sales are {v}"),
                                           N_("trailing-12-month sales are not known"), "usd"),
                               reason_step=1),
    "bsr_top100_products": Advice(_num_reason(N_("{v} products are in a BSR top 100"),
                                              N_("BSR top-100 products are not known"))),
    "monthly_ad_spend_usd": Advice(_num_reason(N_("monthly ad spend is {v}"),
                                               N_("monthly ad spend is not known"), "usd"),
                                   reason_step=1),
    "prior_coop_campaigns": Advice(_num_reason(N_("{v} earlier co-op campaigns"),
                                               N_("earlier co-op campaigns are not known"))),
    "marketplace": Advice(_level_reason(N_("marketplace"))),
    "category": Advice(_level_reason(N_("category"))),
    "campaign_type": Advice(_level_reason(N_("placement"))),
    "duration_days": Advice(_num_reason(N_("planned for {v} days"), N_("duration not given"))),
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
    "few_bsr_products": ("bsr_top100_products", N_("at least 3 products in a BSR top 100"),
                         N_("Fewer than 3 products are in a BSR top 100.")),
    "no_a_plus_content": ("has_a_plus_content", N_("complete A+ pages"),
                          N_("The A+ pages are not complete.")),
    "no_video_main_image": ("has_video_main_image", N_("a video main image"),
                            N_("The listing has no video main image.")),
    "brand_analytics_not_used": ("brand_analytics_active", N_("Brand Analytics in use"),
                                 N_("Brand Analytics is not in use.")),
    "ad_spend_below_5000": ("monthly_ad_spend_usd", N_("about {ad_floor} a month or more"),
                            N_("Monthly ad spend is under {ad_floor}.")),
    "budget_ratio_below_0_2": ("committed_ad_budget_usd",
                               N_("an ad budget of at least {floor} of the resource value"),
                               N_("The committed ad budget is under {floor} of the value of "
                                  "Amazon's resources.")),
}
_SALES = N_("Trailing-12-month sales of {sales} are below the co-op threshold of {limit}.")
_SALES_NA = N_("{amount} in a North American store")
_SALES_EU = N_("{amount} ({usd}) in a European store")


WARNING_CODES = ("sales_below_threshold", *_WARNINGS)  # in the order readiness_flags gives


_new_warning = constructor(ReadinessWarning)


@cache
def _about(locale: str) -> dict[str, tuple[str, str, str, bool]]:
    """code: (column, threshold, message, whether the value is a yes/no) of every warning
    but the sales threshold, in ``locale``."""
    return {code: (column, say(threshold, locale), say(message, locale),
                   SCHEMA[column].kind == "boolean")
            for code, (column, threshold, message) in _WARNINGS.items()}


@cache
def _sales_words(locale: str) -> tuple[str, str, str]:
    """The sales threshold's message, and its limit in North America and in Europe."""
    return (gettext(locale, _SALES),
            gettext(locale, _SALES_NA).format(amount=format_usd(600_000, locale)),
            gettext(locale, _SALES_EU).format(amount=format_eur(400_000, locale),
                                              usd=format_usd(400_000 * USD_PER_EUR, locale)))


def readiness_warning(code: str, row: Mapping[str, Any], locale: str = "en"
                      ) -> ReadinessWarning:
    """Describe warning ``code`` for one campaign given as typed values by column, its
    words in ``locale`` (``code`` and ``column`` never change with the language)."""
    if code == "sales_below_threshold":
        market = MARKETPLACES[int(row["marketplace"])]
        template, na, eu = _sales_words(locale)
        limit = na if market in NORTH_AMERICA else eu
        sales = _plain(row["annual_sales_usd"])
        return _new_warning(code, "annual_sales_usd",
                            template.format(sales=format_usd(sales, locale), limit=limit),
                            limit, sales)
    column, threshold, message, yes_no = _about(locale)[code]
    value = row[column]
    if value.__class__ is not float:  # a numpy number from a batch
        value = _plain(value)
    elif value != value:
        value = None
    return _new_warning(code, column, message, threshold,
                        bool(value) if yes_no and value is not None else value)


def messages() -> list[str]:
    """Every message of this module's catalog (the tests check each is translated)."""
    out = [ESCALATION, _SALES, _SALES_NA, _SALES_EU, *OUT_OF_DEPTH_MESSAGES]
    for advice in ADVICE.values():
        out += advice.reason.messages()
        out += [m for m in (advice.mitigation, advice.target_label) if m]
    for _, threshold, message in _WARNINGS.values():
        out += [threshold, message]
    return list(dict.fromkeys(out))


def _plain(x: object) -> object:
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and x != x:
        return None
    return x



# ---------------------------------------------------------------- out of the model's depth
# (riskmodel.coverage flags them; the words are here, beside the other planner-facing texts)

OUT_OF_DEPTH_CODES = ("beyond_training_range", "rare_level", "rarely_unknown")


_BEYOND = N_("{factor} = {value} lies beyond the range the model was trained on ({low} to "
             "{high}, {count} campaigns): the model's curve is flat there and its estimate "
             "is an extrapolation.")
_RARE_LEVEL = N_("{factor} = {value} was seen in only {count} training campaigns: the model "
                 "knows little about it.")
_RARELY_UNKNOWN = N_("{factor} is unknown here, but was unknown in only {count} training "
                     "campaigns: the model knows little about campaigns without it.")
_YES_NO = (N_("no"), N_("yes"))
OUT_OF_DEPTH_MESSAGES = (_BEYOND, _RARE_LEVEL, _RARELY_UNKNOWN, *_YES_NO)


def out_of_depth_message(code: str, factor: str, value: object,
                         training_range: tuple[float, float] | None, count: int,
                         locale: str = "en") -> str:
    """What a planner reads when a factor lies where the model has little or no data, in
    ``locale``: the factor by its name in English (as the API's fields name it), by its
    label in other languages; numbers formatted for the locale by Babel."""
    name = factor if locale == "en" else label(factor, locale)
    n = format_number(count, locale)
    if code == "beyond_training_range" and training_range is not None:
        low, high = training_range
        return gettext(locale, _BEYOND).format(
            factor=name, value=format_number(value, locale),  # type: ignore[arg-type]
            low=format_number(low, locale), high=format_number(high, locale), count=n)
    if code == "rare_level":
        if isinstance(value, bool):
            shown = gettext(locale, _YES_NO[value]) if locale != "en" else str(value)
        else:
            shown = str(value) if locale == "en" else value_label(str(value), locale)
        return gettext(locale, _RARE_LEVEL).format(factor=name, value=shown, count=n)
    return gettext(locale, _RARELY_UNKNOWN).format(factor=name, count=n)
