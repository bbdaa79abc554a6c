"""The languages a planner reads: English (``en``) and Simplified Chinese (``zh_CN``).

The core's texts are marked with :func:`N_` where they are written (the advice, the labels,
the escalation path, the field messages) and translated when a campaign is explained, through
Babel's message catalogs shipped in ``riskmodel/locale`` (compiled ``.mo`` files, built from
the ``.po`` files with ``make catalogs``; docs/i18n.md). Numbers, money and percentages are
formatted by Babel for the locale.

The locale is always an argument: the core never reads ``LANG`` or a request. Callers turn
what they were given (a ``--lang`` option, a ``lang`` query parameter, a tag from an
``Accept-Language`` header) into a supported locale with :func:`negotiate_locale`; anything
unknown or malformed gives English.
"""

from __future__ import annotations

import decimal
import gettext as stdlib_gettext
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel import Locale
    from babel.numbers import NumberPattern

    from riskmodel.errors import FieldError

# Babel is imported where it is first needed: marking a text (N_) costs nothing, so the
# modules that only mark their texts (validation, rules) load no faster or slower.

DEFAULT_LOCALE = "en"
LOCALES = ("en", "zh_CN")  # the catalogs shipped; English is the source text
LANGUAGE_TAGS = {"en": "en", "zh_CN": "zh-CN"}  # as HTTP's Content-Language writes them
CATALOGS = Path(__file__).with_name("locale")
DOMAIN = "riskmodel"

# Chinese written in these regions is Traditional: not served by the zh_CN catalog
_TRADITIONAL = frozenset({"TW", "HK", "MO"})


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


def negotiate_locale(*tags: object) -> str:
    """The first of ``tags`` (``zh-CN``, ``zh_CN``, ``zh-Hans``, ``en-US``...) that a shipped
    catalog serves, as its locale name; English when none does. Never raises: an unknown,
    malformed or empty tag is passed over.

    >>> negotiate_locale("zh-Hans-CN"), negotiate_locale("xx-!!", "fr"), negotiate_locale()
    ('zh_CN', 'en', 'en')
    """
    for tag in tags:
        if isinstance(tag, str) and tag:
            found = _supported(tag)
            if found is not None:
                return found
    return DEFAULT_LOCALE


@lru_cache(maxsize=256)
def _supported(tag: str) -> str | None:
    if tag in LOCALES:
        return tag
    text = tag.strip().split(".")[0].split("@")[0]  # LANG's zh_CN.UTF-8
    if not text or len(text) > 35:
        return None
    if text in ("C", "POSIX"):  # LANG=C.UTF-8: Babel reads it as en_US_POSIX, English;
        return DEFAULT_LOCALE  # said here without loading Babel's data for it
    from babel import Locale, UnknownLocaleError

    try:
        loc = Locale.parse(text.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    if loc.language == "en":
        return "en"
    if loc.language == "zh" and loc.script in (None, "Hans") and (
            loc.script == "Hans" or loc.territory not in _TRADITIONAL):
        return "zh_CN"
    return None


def read_catalog(directory: str | Path, domain: str,
                 locale: str) -> stdlib_gettext.NullTranslations:
    """The compiled catalog ``<directory>/<locale>/LC_MESSAGES/<domain>.mo``, read by
    Python's own gettext; for English, or a locale with no catalog, the identity (the texts
    are written in English). Not Babel's loader (babel.support): it imports babel.dates,
    and the machine's time zone with it, which a command that formats no number never
    needs."""
    if locale == DEFAULT_LOCALE:
        return stdlib_gettext.NullTranslations()
    return stdlib_gettext.translation(domain, str(directory), [locale], fallback=True)


@cache
def translations(locale: str) -> stdlib_gettext.NullTranslations:
    """The core's catalog for ``locale`` (an unknown locale gives English), loaded once."""
    return read_catalog(CATALOGS, DOMAIN, locale if locale in LOCALES else DEFAULT_LOCALE)


def gettext(locale: str, message: str) -> str:
    """``message`` in ``locale``; the message itself when it has no translation."""
    return translations(locale).gettext(message)


def language_tag(locale: str) -> str:
    """The BCP 47 tag of a supported locale (``zh_CN`` -> ``zh-CN``), for Content-Language
    and HTML's ``lang``."""
    return LANGUAGE_TAGS.get(locale, "en")


# Numbers in the locale's own format, by Babel. A planner's values repeat (whole days,
# whole percentages, round budgets), so each distinct one is formatted once.

# Babel formats through decimal with a bounded precision: a magnitude beyond it (a number
# near 1e308 that JSON may carry) raises decimal.InvalidOperation. Such a number is written
# in scientific notation instead, still per locale.

@lru_cache(maxsize=8192)
def format_number(value: float, locale: str) -> str:
    """A count or a number of days: ``12``, ``2.5``, ``1,234``."""
    from babel.numbers import format_decimal

    try:
        return format_decimal(value, locale=_babel(locale))
    except decimal.InvalidOperation:
        return _scientific(value, locale)


@lru_cache(maxsize=8192)
def format_share(value: float, locale: str) -> str:
    """A share as a whole percentage: ``45%``."""
    from babel.numbers import format_percent

    try:
        return format_percent(value, _pattern("#,##0%"), locale=_babel(locale))
    except decimal.InvalidOperation:
        return _scientific(decimal.Decimal(value) * 100, locale) + "%"


@lru_cache(maxsize=8192)
def format_usd(value: float, locale: str) -> str:
    """An amount in US dollars, no cents: ``$600,000`` (``US$600,000`` in zh_CN)."""
    return _money(value, "USD", locale)


@lru_cache(maxsize=64)
def format_eur(value: float, locale: str) -> str:
    """An amount in euros, no cents: ``€400,000``."""
    return _money(value, "EUR", locale)


def _money(value: float, currency: str, locale: str) -> str:
    from babel.numbers import format_currency, get_currency_symbol

    try:
        return format_currency(value, currency, _pattern("¤#,##0"), locale=_babel(locale),
                               currency_digits=False)
    except decimal.InvalidOperation:
        return get_currency_symbol(currency, _babel(locale)) + _scientific(value, locale)


def _scientific(value: float | decimal.Decimal, locale: str) -> str:
    from babel.numbers import format_scientific

    return format_scientific(value, _pattern("#.###E0"), locale=_babel(locale))


@cache
def _babel(locale: str) -> Locale:
    """Babel's locale for ``locale``: English numbers as the contract's stores write them
    (US); unknown locales as English. Parsed once: given a name, each of Babel's format
    calls parses it again, which was half the cost of formatting an amount."""
    from babel import Locale

    return Locale.parse("zh_CN" if locale == "zh_CN" else "en_US")


@cache
def _pattern(pattern: str) -> NumberPattern:
    """A number pattern, parsed once (Babel's format calls take it parsed as it is)."""
    from babel.numbers import parse_pattern

    return parse_pattern(pattern)


# A field error's message in another language: its problem (marked where it is raised), its
# allowed values (the contract's wordings below, matched as written) and where it was.
_FIELD = N_("{column}{where}: {problem}; expected {allowed}.{got}")
_WHERE = N_(" (row {row})")
_GOT = N_(" Got {received} instead.")
ALLOWED = (N_("one of {values}"), N_("true or false (or empty)"), N_("true or false"),
           N_("{n} printable characters"), N_("an ISO 8601 date (YYYY-MM-DD)"),
           N_("an integer from {low} to {high}"), N_("a number from {low} to {high}"),
           N_("a number > {low}"), N_("a number ≥ {low}"), N_("an integer > {low}"),
           N_("an integer ≥ {low}"), N_("a number"), N_("an integer"),
           N_("an object of column: value pairs"), N_("a campaign object"),
           N_("empty when failed is false"),
           N_("at most {limit} fields ({noun} has {count})"), N_("YYYY-MM-DD (UTC day)"))
# the words of an object that ALLOWED's wordings name as {noun}
NOUNS = (N_("a campaign"), N_("an outcome"))
# problems worded with a value (the others are looked up as written)
PROBLEMS = (N_("has {n} fields"),)
# a long text received, cut (riskmodel.errors.MAX_SHOWN)
_CUT = N_("{shown}… ({length} characters, the first {limit} shown)")
# problems the service finds with the core's words (an unknown field of a campaign)
SERVICE_PROBLEMS = (N_("is not a field of the contract"),)


def _patterns(messages: tuple[str, ...]) -> list[tuple[str, re.Pattern]]:
    return [(m, re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", re.escape(m)) + "$"))
            for m in messages]


_ALLOWED_RE = _patterns(ALLOWED)
_PROBLEMS_RE = _patterns(PROBLEMS)


def allowed_in(allowed: str, locale: str) -> str:
    """The contract's words for the allowed values in ``locale`` (unchanged if they are not
    one of :data:`ALLOWED`'s wordings)."""
    return _worded(allowed, _ALLOWED_RE, locale)


def _worded(text: str, patterns: list[tuple[str, re.Pattern]], locale: str) -> str:
    """``text`` in ``locale`` if it is one of ``patterns``' wordings (a ``noun`` in it
    translated too), else unchanged."""
    for message, pattern in patterns:
        found = pattern.match(text)
        if found:
            values = found.groupdict()
            if "noun" in values:
                values["noun"] = gettext(locale, values["noun"])
            return gettext(locale, message).format(**values)
    return text


def field_message(error: FieldError, locale: str) -> str:
    """``error.message`` in ``locale``: the column, the row, the problem, the allowed
    values and the value received; English gives ``error.message`` itself."""
    if locale not in LOCALES or locale == DEFAULT_LOCALE:
        return error.message
    from riskmodel.errors import MAX_SHOWN, _shown, shorten

    t = translations(locale).gettext
    where = "" if error.row is None else t(_WHERE).format(row=error.row)
    received = error.received
    if received is None:
        got = ""
    else:
        if isinstance(received, str) and len(received) > MAX_SHOWN:
            shown = t(_CUT).format(shown=repr(received[:MAX_SHOWN]),
                                   length=format_number(len(received), locale),
                                   limit=MAX_SHOWN)
        else:
            shown = _shown(received)
        got = t(_GOT).format(received=shown)
    problem = t(error.problem)
    if problem == error.problem:  # not a message of the catalog as written
        problem = _worded(error.problem, _PROBLEMS_RE, locale)
    return t(_FIELD).format(column=shorten(error.column), where=where, problem=problem,
                            allowed=allowed_in(error.allowed, locale), got=got)
