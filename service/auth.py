"""API keys for write endpoints: ``RISKMODEL_API_KEYS``, compared in constant time."""

from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, request

from riskmodel import N_
from service.problems import Problem

PROTECTED = "riskmodel.protected"  # view attribute the route test reads


def presented_keys(environ: dict) -> list[str]:
    """Every credential the request ``environ`` carries: the ``Authorization`` header's
    Bearer token (any other scheme counts as a wrong key) and ``X-API-Key``."""
    out = []
    header = environ.get("HTTP_AUTHORIZATION")
    if header is not None:
        out.append(header[7:].strip() if header[:7].lower() == "bearer " else "")
    api_key = environ.get("HTTP_X_API_KEY")
    if api_key is not None:
        out.append(api_key)
    return out


def check_key(environ: dict, keys: tuple[str, ...]) -> None:
    """Raise a 401 problem unless the request ``environ`` carries one of ``keys``, and
    nothing but: a wrong credential beside a right one is refused too, so that no header
    a client sends is silently ignored."""
    presented = presented_keys(environ)
    if not presented:
        raise Problem(401, "unauthorized", N_("Unauthorized"),
                      N_("this endpoint needs an API key: send 'Authorization: Bearer <key>' or "
                         "'X-API-Key: <key>'"), headers={"WWW-Authenticate": "Bearer"})
    valid = [key_is_valid(key, keys) for key in presented]  # each compared, every time
    if not all(valid):
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
