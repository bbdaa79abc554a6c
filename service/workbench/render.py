"""Template filters, and the quarter view rendered as one self-contained file (the report
of ``riskmodel score --report``): the same template as the page, its stylesheet inlined,
no script, nothing fetched."""

from __future__ import annotations

import math
from importlib import resources

from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape

from riskmodel import (
    BANDS,
    FAMILY_LABELS,
    N_,
    family_label,
    label,
    language_tag,
    out_of_depth_label,
    warning_label,
)
from riskmodel import value_label as riskmodel_value_label
from service.i18n import catalog, gettext_in


def _locale(ctx) -> str:
    return ctx.get("locale") or "en"


@pass_context
def pct(ctx, x: float | None, digits: int = 0) -> str:
    if x is None or x != x:
        return "–"
    pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
    return format_percent(x, pattern, locale=_babel(_locale(ctx)))


def signed(x: float | None, digits: int = 2) -> str:
    if x is None or x != x:
        return "–"
    return f"{x:+.{digits}f}".replace("-", "−")


@pass_context
def number(ctx, x: float | int | None, digits: int = 0) -> str:
    return number_in(x, digits, _locale(ctx))


def number_in(x: float | int | None, digits: int, locale: str) -> str:
    """``x`` with ``digits`` decimals as ``locale`` writes numbers; "–" for none or a value
    that is not finite."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    pattern = "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(x, pattern, locale=_babel(locale))


@pass_context
def label_filter(ctx, name: str) -> str:
    return label(name, _locale(ctx))


@pass_context
def family_label_filter(ctx, family: str) -> str:
    return family_label(family, _locale(ctx))


@pass_context
def value_label(ctx, v: object) -> str:
    return riskmodel_value_label(str(v), _locale(ctx))


@pass_context
def warning_words(ctx, code: str) -> str:
    return warning_label(code, _locale(ctx))


def depth_words(entry: str, locale: str = "en") -> str:
    """An out-of-depth cell entry ("factor:code") in words, in ``locale``."""
    factor, _, code = entry.partition(":")
    return f"{label(factor, locale)}: {out_of_depth_label(code, locale)}"


@pass_context
def depth_words_filter(ctx, entry: str) -> str:
    return depth_words(entry, _locale(ctx))


@pass_context
def band_words(ctx, band: str) -> str:
    """A risk band in words (the band's code stays in attributes and the scored file)."""
    return gettext_in(_locale(ctx), BAND_WORDS.get(band, band))


BAND_WORDS = {"low": N_("low risk"), "medium": N_("medium risk"), "high": N_("high risk")}
BAND_NAMES = {"low": N_("low"), "medium": N_("medium"), "high": N_("high")}


@pass_context
def band_name(ctx, band: str) -> str:
    return gettext_in(_locale(ctx), BAND_NAMES.get(band, band))


def _babel(locale: str) -> str:
    return "zh_CN" if locale == "zh_CN" else "en_US"


FILTERS = {"pct": pct, "signed": signed, "number": number, "label": label_filter,
           "family_label": family_label_filter, "value_label": value_label,
           "warning_words": warning_words, "band_words": band_words, "band_name": band_name,
           "depth_words": depth_words_filter}
GLOBALS = {"BANDS": BANDS, "FAMILY_LABELS": FAMILY_LABELS}


def _environment(locale: str) -> Environment:
    env = Environment(loader=PackageLoader("service.workbench", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      extensions=["jinja2.ext.i18n"])
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS)
    env.install_gettext_translations(  # type: ignore[attr-defined]
        catalog(locale), newstyle=True)
    return env


def render_report(quarter, *, title: str | None = None, locale: str = "en") -> str:
    """The quarter view of ``quarter`` (:class:`batch.Quarter`) as one printable HTML file
    with its styles inline, its words in ``locale``; ``title`` by default "Quarter check:"
    and the plan's name."""
    css = resources.files("service.workbench").joinpath("static/app.css").read_text("utf-8")
    if title is None:
        title = gettext_in(locale, QUARTER_TITLE).format(source=quarter.source)
    return _environment(locale).get_template("workbench/report.html").render(
        q=quarter, title=title, css=css, interactive=False, links=None, locale=locale,
        html_lang=language_tag(locale))


QUARTER_TITLE = N_("Quarter check: {source}")
