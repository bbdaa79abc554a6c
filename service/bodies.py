"""Reading JSON request bodies: one object, or a batch of them under one key."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping

import orjson
from werkzeug.http import parse_options_header
from werkzeug.wsgi import get_content_length

from riskmodel import N_, shorten
from service.problems import Problem


def json_body(environ: dict, limit: int) -> tuple[object, str | None]:
    """The body of the request ``environ`` parsed as JSON, and its text when it is plain
    UTF-8 JSON (else None): 415 unless a JSON media type, 413 over ``limit`` bytes, 400
    unless valid JSON or if an object names a member twice. A gzip-encoded body
    (``Content-Encoding: gzip``) is decompressed first, to at most ``limit`` bytes; any
    other coding is a 415.

    Views pass the environ and the limit they already hold: every ``request`` or
    ``current_app`` attribute is a context-local lookup, and on the scoring path those
    lookups added up to a visible share of a request.
    """
    ctype = environ.get("CONTENT_TYPE")
    if ctype != "application/json":  # the usual header needs no parsing
        mimetype = parse_options_header(ctype)[0].lower()
        if mimetype != "application/json" and not mimetype.endswith("+json"):
            raise Problem(415, "unsupported-media-type", N_("Unsupported Media Type"),
                          N_("the body must be application/json; got {got}"),
                          args={"got": repr(mimetype or "no type")})
    data = _read_body(environ, limit)
    coding = environ.get("HTTP_CONTENT_ENCODING")
    if coding:
        data = _decode(data, coding, limit)
    try:
        body = orjson.loads(data)  # the usual body, fast (and valid UTF-8)
    except orjson.JSONDecodeError:
        pass
    else:
        _check_unique(data, body)
        return body, data.decode()
    try:
        # what orjson refuses, the standard library decides: NaN and Infinity literals
        # parse to floats here and are refused, per field, by the validation (422);
        # anything else that is not JSON is a 400
        return json.loads(data, object_pairs_hook=_unique), None
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise Problem(400, "invalid-json", N_("Invalid JSON"),
                      N_("the body is not valid JSON: {error}"), args={"error": str(e)}) from None


# a member's name and its colon; also matches inside a string value that holds an escaped
# quote before a colon, so there are at least as many matches as names in the text
_NAME = re.compile(rb'"\s*:')


def _check_unique(data: bytes, body: object) -> None:
    """400 if an object of ``body`` (parsed from ``data`` by orjson, which keeps the last of
    duplicate names) named a member twice: duplicate names are read differently by
    different parsers (RFC 8259 leaves them undefined), and the stored text would disagree
    with what was scored.

    Cheap for the usual body: every name in the text is followed by a colon, so when the
    text has no more colons than the parsed objects have members, no name was repeated
    (counting bytes costs next to nothing; a regular expression over the body cost about
    7% of a scoring request's instructions). Colons inside text values (a ``campaign_id``
    of ``2027:Q1``) make the count too high; then names are counted by ``_NAME``, and only
    if that count is still too high is the body parsed again to find the repeated name.
    """
    if not isinstance(body, (dict, list)):
        return
    members = len(body) if isinstance(body, dict) else -1
    colons = data.count(b":")
    if colons == members:
        return
    members = _members(body)
    if colons == members or len(_NAME.findall(data)) == members:
        return
    try:
        json.loads(data, object_pairs_hook=_unique)
    except RecursionError:  # nested deeper than the standard library goes: not a campaign
        pass


def _members(value: object) -> int:
    """How many members the objects in ``value`` have, at any depth."""
    n, stack = 0, [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            n += len(v)
            stack.extend(w for w in v.values() if isinstance(w, (dict, list)))
        elif isinstance(v, list):
            stack.extend(w for w in v if isinstance(w, (dict, list)))
    return n


def _unique(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                break
            seen.add(name)
        raise Problem(400, "duplicate-name", N_("Duplicate name"),
                      N_("an object of the body names {name} more than once; each name may "
                         "appear once per object"), args={"name": repr(shorten(name))})
    return out


CODINGS = ("gzip",)  # Content-Encoding a body may have (besides identity)


def _decode(data: bytes, coding: str, limit: int) -> bytes:
    """``data`` decoded from its ``Content-Encoding``: gzip, to at most ``limit`` bytes
    (413 beyond: a small body may expand a thousandfold), 400 if it is not valid gzip; 415
    for any other coding, naming those taken (and saying so in ``Accept-Encoding``)."""
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return data
    if coding not in ("gzip", "x-gzip"):
        raise Problem(415, "unsupported-content-encoding", N_("Unsupported Content-Encoding"),
                      N_("the body may be sent as is or gzip-encoded; got Content-Encoding "
                         "{got}"), headers={"Accept-Encoding": "gzip"},
                      args={"got": repr(shorten(coding))})
    inflate = zlib.decompressobj(wbits=31)  # 16 + 15: a gzip header and trailer
    try:
        out = inflate.decompress(data, limit + 1)
    except zlib.error as e:
        raise Problem(400, "invalid-encoding", N_("Invalid encoding"),
                      N_("the body is not valid gzip: {error}"), args={"error": str(e)}) from None
    if len(out) > limit:
        raise _too_large(N_("the gzip-encoded body decompresses to more than {limit} bytes"),
                         limit=limit)
    if not inflate.eof or inflate.unused_data:
        raise Problem(400, "invalid-encoding", N_("Invalid encoding"),
                      N_("the gzip stream is incomplete, or followed by other data"))
    return out


def _read_body(environ: dict, limit: int) -> bytes:
    """The request body, within the configured limit (413 beyond it).

    Read from the WSGI input directly. werkzeug's ``get_data`` under a limit reads in
    64 KiB pieces, allocating and clearing 64 KiB twice for a body of a few hundred bytes
    (measured under gunicorn: a fifth of the scoring view's time), and it cuts a streamed
    (chunked) body off at the limit without a 413, so the client got a 400 for a body that
    was too large rather than malformed.
    """
    length = get_content_length(environ)  # None for a streamed (chunked) body
    if length is not None and length > limit:
        raise _too_large(N_("the body declares {length} bytes; the limit is {limit} "
                            "(RISKMODEL_MAX_BODY_BYTES)"), length=length, limit=limit)
    stream = environ["wsgi.input"]
    if length is None:
        if "wsgi.input_terminated" not in environ:
            return b""  # as werkzeug: a server that does not end the stream gives no body
        data = _read(stream, limit + 1)  # one byte past the limit tells the two apart
        if len(data) > limit:
            raise _too_large(N_("the streamed body passed the limit of {limit} bytes "
                                "(RISKMODEL_MAX_BODY_BYTES)"), limit=limit)
        return data
    data = _read(stream, length)
    if len(data) < length:
        raise Problem(400, "incomplete-body", N_("Incomplete body"),
                      N_("the body ended after {read} of the {length} bytes its "
                         "Content-Length declares"), args={"read": len(data), "length": length})
    return data


def _too_large(detail: str, **args: object) -> Problem:
    return Problem(413, "body-too-large", N_("Body too large"), detail, args=args)


def _read(stream, n: int) -> bytes:
    """Up to ``n`` bytes; fewer only where the stream ends, or where
    the connection drops (read errors count as its end). A body the server cannot decode
    (a malformed chunked encoding) is a 400 where the server raises a parse error, as
    gunicorn does; granian instead ends the body where the encoding breaks (and closes the
    connection after the answer), so what came before is parsed as the whole body."""
    parts = []
    try:
        while n > 0:
            chunk = stream.read(min(n, 1 << 16))
            if not chunk:
                break
            parts.append(chunk)
            n -= len(chunk)
    except (OSError, ValueError):
        pass
    except Exception as e:  # noqa: BLE001  the server's own parse errors (gunicorn's)
        raise Problem(400, "incomplete-body", N_("Incomplete body"),
                      N_("the body could not be read: {error}"),
                      args={"error": f"{type(e).__name__}: {e}"}) from None
    return b"".join(parts)


def items(body: object, key: str, noun: str, limit: int) -> tuple[list, str]:
    """``[body]`` for one object, or ``body[key]`` for a batch, with the JSON pointer
    prefix of its items; 422 for any other shape or more than ``limit`` items."""
    if isinstance(body, Mapping) and key in body:
        batch = body[key]
        if len(body) > 1 or not isinstance(batch, list) or not batch:
            if len(body) > 1:
                names, more = _names(k for k in body if k != key)
                detail = (N_("unknown fields {extra} and {more} more: a batch is "
                             "{{\"{key}\": [...]}}") if more
                          else N_("unknown fields {extra}: a batch is {{\"{key}\": [...]}}"))
            else:
                names, more = "", 0
                detail = N_("{key} must be a non-empty array of {noun} objects")
            raise Problem(422, "invalid-campaign", N_("Invalid request"), detail, [],
                          args={"extra": names, "more": f"{more:,}", "key": key,
                                "noun": noun})
        if len(batch) > limit:
            # 422, not 413: the body's size is fine, its content breaks a documented rule
            title = N_("Too many campaigns") if key == "campaigns" else N_("Too many outcomes")
            raise Problem(422, "too-many-campaigns", title,
                          N_("at most {limit} {key} per request; got {got}"), [],
                          args={"limit": limit, "key": key, "got": len(batch)})
        return batch, f"/{key}"
    if isinstance(body, Mapping):
        return [body], ""
    detail = N_("the body must be an {noun} object or {{\"{key}\": [...]}}; got {got}") \
        if noun[0] in "aeiou" else \
        N_("the body must be a {noun} object or {{\"{key}\": [...]}}; got {got}")
    raise Problem(422, "invalid-campaign", N_("Invalid request"), detail, [],
                  args={"noun": noun, "key": key, "got": type(body).__name__})


def _names(keys, shown: int = 5) -> tuple[str, int]:
    """The first few ``keys`` (each cut short), and how many more there are."""
    keys = list(keys)
    names = ", ".join(shorten(str(k)) for k in sorted(keys[:shown]))
    return names, max(0, len(keys) - shown)
