"""The language of a request: the ``lang`` query parameter, then ``Accept-Language``.

One choice per request, made once and kept in the WSGI environ, read the same way by the
scoring shortcut (no Flask there) and by Flask-Babel (its locale selector) for the other
views and the workbench's templates. An unknown or malformed language gives English, never
an error. Every response says which language it used in ``Content-Language``
(:class:`service.observe.Observed` adds it).

The service's own texts (problem titles and details) live in the ``service`` catalog,
``service/locale``; the core's texts (reasons, field messages) in the core's.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from urllib.parse import parse_qsl

from flask import Flask, has_request_context, request
from flask_babel import Babel, Domain
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from riskmodel import LOCALES, language_tag, load_catalog, negotiate_locale

LOCALE_KEY = "riskmodel.locale"
CATALOGS = Path(__file__).with_name("locale")
DOMAIN = "service"


@lru_cache(maxsize=1024)
def _from_header(header: str) -> str:
    """The first shipped locale of an ``Accept-Language`` header, by quality (a header
    repeats from request to request: each distinct one is read once)."""
    accept = parse_accept_header(header, LanguageAccept)
    return negotiate_locale(*(tag for tag, quality in accept if quality > 0 and tag != "*"))


@lru_cache(maxsize=256)
def _from_query(query: str) -> str | None:
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "lang":
            found = negotiate_locale(value)
            # an unknown lang passes over to the header; English stands only if asked for
            return found if found != "en" or value[:2].lower() == "en" else None
    return None


def locale_of(environ: dict) -> str:
    """The locale of a request (kept in ``environ``): ``?lang=``, then ``Accept-Language``,
    then English."""
    found = environ.get(LOCALE_KEY)
    if found is None:
        query = environ.get("QUERY_STRING")
        found = _from_query(query) if query and "lang=" in query else None
        if found is None:
            header = environ.get("HTTP_ACCEPT_LANGUAGE")
            found = _from_header(header) if header else "en"
        environ[LOCALE_KEY] = found
    return found


def content_language(environ: dict) -> str:
    """The ``Content-Language`` of the answer to this request."""
    return language_tag(locale_of(environ))


@cache
def _catalog(locale: str):
    return load_catalog(CATALOGS, DOMAIN, locale)


def gettext_in(locale: str, message: str) -> str:
    """``message`` of the service's catalog in ``locale`` (itself when it has no
    translation): for code that answers without Flask's request context."""
    return _catalog(locale).gettext(message)


class _Domain(Domain):
    """Flask-Babel's domain, answering with this module's catalogs: Flask-Babel names a
    catalog by the locale Babel parses (``zh_Hans_CN``), the catalogs are ``zh_CN``."""

    def get_translations(self):
        if not has_request_context():
            return _catalog("en")
        return _catalog(locale_of(request.environ))


def init_app(app: Flask) -> None:
    """Flask-Babel for the views and templates, choosing the request's locale as above."""
    babel = Babel(app, default_domain=DOMAIN, default_translation_directories=str(CATALOGS),
                  locale_selector=lambda: locale_of(request.environ))
    babel.domain_instance = _Domain(str(CATALOGS), DOMAIN)  # type: ignore[misc]
    for locale in LOCALES:  # read the catalogs now, not on a request
        _catalog(locale)
