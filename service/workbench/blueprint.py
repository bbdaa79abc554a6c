"""The workbench blueprint and what every page of it shares: security headers, the CSRF
token, server timing, and the template filters."""

from __future__ import annotations

import hmac
import re
import secrets
import time

from flask import Blueprint, Response, g, render_template, request

from riskmodel import language_tag
from service.i18n import locale_of
from service.workbench.render import FILTERS, GLOBALS
from service.workbench.texts import page_text

bp = Blueprint("workbench", __name__, template_folder="templates", static_folder="static",
               static_url_path="/workbench/static")

# Scripts, styles and images only from the service itself; inline SVG is markup, not
# script. No inline script runs: the pages' data travel in JSON blocks that nothing executes.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
CSRF_COOKIE = "riskmodel_csrf"
CSRF_FIELD = "csrf_token"
_TOKEN = re.compile(r"^[0-9a-f]{64}$")


@bp.record_once
def _templates(state) -> None:
    state.app.jinja_env.filters.update(FILTERS)
    state.app.jinja_env.globals.update(GLOBALS, csrf_token=csrf_token,
                                       csrf_field=CSRF_FIELD)
    state.app.context_processor(_language)


def _language() -> dict:
    """The page's language for its templates: its locale (the filters read it), its
    ``lang`` attribute, the scripts' words, and ``?lang=`` for its links when the page was
    asked for with one."""
    locale = locale_of(request.environ)
    return {"locale": locale, "html_lang": language_tag(locale),
            "page_text": page_text(locale), "lang_args": lang_args()}


def lang_args() -> dict:
    """``{"lang": tag}`` for the links, forms and redirects of a page asked for with
    ``?lang=`` (so that the language a planner chose stays through the next page), else
    nothing: a browser's Accept-Language comes with every request by itself."""
    if request.args.get("lang") is None:
        return {}
    return {"lang": language_tag(locale_of(request.environ))}


@bp.before_request
def _start() -> None:
    g.workbench_started = time.perf_counter()


@bp.after_request
def _headers(resp: Response) -> Response:
    h = resp.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    # a shared check carries the campaign in its address: never send it to another site
    h.setdefault("Referrer-Policy", "same-origin")
    started = g.get("workbench_started")
    if started is not None:
        h["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    token = g.get("csrf_token")
    if token is not None and request.cookies.get(CSRF_COOKIE) != token:
        resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict",
                        secure=request.is_secure, path="/")
    return resp


def csrf_token() -> str:
    """This browser's CSRF token (double-submit: a cookie only our pages can read back
    into a form, since other sites can neither read nor set it)."""
    token = g.get("csrf_token")
    if token is None:
        token = request.cookies.get(CSRF_COOKIE, "")
        if not _TOKEN.match(token):
            token = secrets.token_hex(32)
        g.csrf_token = token
    return token


def csrf_ok() -> bool:
    """The form's token matches the cookie, and a cross-site Origin is refused."""
    origin = request.headers.get("Origin")  # "null" from privacy settings: the token decides
    if origin and origin != "null" and origin.rstrip("/") != request.host_url.rstrip("/"):
        return False
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.form.get(CSRF_FIELD, "")
    return bool(_TOKEN.match(cookie)) and hmac.compare_digest(cookie, sent)


def page_error(status: int, title: str, message: str, back: str | None = None):
    """An error as a page of the workbench (the API's errors stay problem+json)."""
    return render_template("workbench/error.html", title=title, message=message,
                           back=back), status
