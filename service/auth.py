"""API keys for write endpoints: ``RISKMODEL_API_KEYS``, compared in constant time."""

from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, request

from riskmodel import N_
from service.problems import Problem

PROTECTED = "riskmodel.protected"  # view attribute the route test reads


def presented_key(environ: dict) -> str | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return environ.get("HTTP_X_API_KEY")


def check_key(environ: dict, keys: tuple[str, ...]) -> None:
    """Raise a 401 problem unless the request ``environ`` carries one of ``keys``."""
    key = presented_key(environ)
    if not key:
        raise Problem(401, "unauthorized", N_("Unauthorized"),
                      N_("this endpoint needs an API key: send 'Authorization: Bearer <key>' or "
                         "'X-API-Key: <key>'"), headers={"WWW-Authenticate": "Bearer"})
    if not key_is_valid(key, keys):
        raise Problem(401, "unauthorized", N_("Unauthorized"), N_("the API key is not valid"),
                      headers={"WWW-Authenticate": "Bearer"})


def key_is_valid(key: str, keys: tuple[str, ...]) -> bool:
    """Whether ``key`` is one of ``keys``."""
    given = key.encode()
    # compare with every key, always, so timing reveals neither which nor how much matched
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(given, k.encode())
    return ok


def require_key(view):
    """Protect a view with an API key (and mark it, so a test can list protected routes)."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        check_key(request.environ, current_app.extensions["riskmodel.api_keys"])
        return view(*args, **kwargs)

    setattr(wrapped, PROTECTED, True)
    return wrapped
