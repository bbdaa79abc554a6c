"""Reading JSON request bodies: one object, or a batch of them under one key."""

from __future__ import annotations

import json
from collections.abc import Mapping

import orjson
from flask import current_app, request

from service.problems import Problem


def json_body() -> object:
    """The body parsed as JSON: 415 unless a JSON media type, 400 unless valid JSON."""
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise Problem(415, "unsupported-media-type", "Unsupported Media Type",
                      f"the body must be application/json; got {mimetype or 'no type'!r}")
    data = request.get_data(cache=False)
    try:
        return orjson.loads(data)  # the usual body, fast
    except orjson.JSONDecodeError:
        pass
    try:
        # what orjson refuses, the standard library decides: NaN and Infinity literals
        # parse to floats here and are refused, per field, by the validation (422);
        # anything else that is not JSON is a 400
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise Problem(400, "invalid-json", "Invalid JSON",
                      f"the body is not valid JSON: {e}") from None


def items(body: object, key: str, noun: str) -> tuple[list, str]:
    """``[body]`` for one object, or ``body[key]`` for a batch, with the JSON pointer
    prefix of its items; 422 for any other shape or more items than the configured limit."""
    limit = current_app.extensions["riskmodel.settings"].max_campaigns
    if isinstance(body, Mapping) and key in body:
        extra = sorted(k for k in body if k != key)
        batch = body[key]
        if extra or not isinstance(batch, list) or not batch:
            detail = (f"unknown fields {', '.join(extra)}: a batch is {{\"{key}\": [...]}}"
                      if extra else f"{key} must be a non-empty array of {noun} objects")
            raise Problem(422, "invalid-campaign", "Invalid request", detail, [])
        if len(batch) > limit:
            # 422, not 413: the body's size is fine, its content breaks a documented rule
            raise Problem(422, "too-many-campaigns", f"Too many {key}",
                          f"at most {limit} {key} per request; got {len(batch)}", [])
        return batch, f"/{key}"
    if isinstance(body, Mapping):
        return [body], ""
    raise Problem(422, "invalid-campaign", "Invalid request",
                  f"the body must be a{'n' if noun[0] in 'aeiou' else ''} {noun} object or "
                  f"{{\"{key}\": [...]}}; got {type(body).__name__}", [])
