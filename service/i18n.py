"""The language of a request: the ``lang`` query parameter, then ``Accept-Language``.

One choice per request, made once and kept in the WSGI environ, read the same way by the
scoring shortcut (no Flask there), by the other views (:func:`gettext`) and by the
workbench's templates (Jinja's i18n extension, :func:`init_app`). An unknown or malformed
language gives English, never an error. Every response says which language it used in
``Content-Language`` (:class:`service.observe.Observed` adds it).

The service's own texts (problem titles and details) live in the ``service`` catalog,
``service/locale``; the core's texts (reasons, field messages) in the core's.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from urllib.parse import parse_qsl

from flask import Flask, has_request_context, request
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from riskmodel import LOCALES, language_tag, negotiate_locale, read_catalog

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
def catalog(locale: str):
    """The service's catalog for ``locale``, read once (English: the identity)."""
    return read_catalog(CATALOGS, DOMAIN, locale)


def gettext_in(locale: str, message: str) -> str:
    """``message`` of the service's catalog in ``locale`` (itself when it has no
    translation): for code that answers without Flask's request context."""
    return catalog(locale).gettext(message)


def _translations():
    """The service's catalog in the language of the request being answered (English
    outside a request)."""
    return catalog(locale_of(request.environ) if has_request_context() else "en")


def gettext(message: str, **variables) -> str:
    """``message`` in the request's language, its ``%(name)s`` placeholders filled from
    ``variables`` when there are any (a message without variables is returned as it is, a
    ``%`` in it included; the templates' ``_()`` always formats, so a template writes
    ``%%``)."""
    text = _translations().gettext(message)
    return text % variables if variables else text


def init_app(app: Flask) -> None:
    """The templates' ``_()`` and ``ngettext()`` in the request's language: Jinja's i18n
    extension with the service's catalogs, read now rather than on a request.

    Flask-Babel did this before, with its locale selector (ours), its catalog loading and
    its ``gettext`` for the views (:func:`gettext` here, which formats as it did); none of
    its Jinja filters was used. It pulled in pytz, whose look-up of the machine's time
    zone among all ~600 zone files (Babel's, at its first number format) cost about 20 ms
    of every start (docs/service.md, Start-up)."""
    for locale in LOCALES:
        catalog(locale)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: _translations().gettext(message),
        lambda singular, plural, n: _translations().ngettext(singular, plural, n),
        newstyle=True)
