"""GET /openapi.json, GET /docs (a readable page of the same document) and GET /metrics."""

from __future__ import annotations

import html

from flask import Blueprint, Response, current_app

from riskmodel import SCHEMA
from service.problems import PROBLEM_TYPES, Problem
from service.serialize import dumps

bp = Blueprint("meta", __name__)


@bp.get("/openapi.json")
def openapi() -> Response:
    # orjson keeps the contract's column order (Flask's provider would sort the keys)
    return Response(dumps(current_app.extensions["riskmodel.openapi"]),
                    mimetype="application/json")


@bp.get("/docs")
def docs() -> Response:
    doc = current_app.extensions["riskmodel.openapi"]
    rows = "".join(
        f"<tr><td><code>{html.escape(c.name)}</code></td><td>{c.kind}</td>"
        f"<td>{'yes' if c.required else ''}</td><td>{html.escape(c.allowed())}</td>"
        f"<td>{html.escape(c.family or '')}</td><td>{html.escape(c.description)}</td></tr>"
        for c in SCHEMA.columns)
    routes = "".join(
        f"<li><code>{m.upper()} {html.escape(p)}</code> — {html.escape(op['summary'])} "
        f"(statuses {', '.join(op['responses'])})</li>"
        for p, ops in doc["paths"].items() for m, op in ops.items())
    page = (f"<!doctype html><meta charset=utf-8><title>riskmodel API</title>"
            f"<h1>riskmodel API {html.escape(doc['info']['version'])}</h1>"
            f"<p>{html.escape(doc['info']['description'])}</p><h2>Routes</h2><ul>{routes}"
            f"</ul><h2>Campaign fields</h2><table border=1 cellpadding=4><tr><th>field</th>"
            f"<th>type</th><th>required</th><th>valid values</th><th>family</th>"
            f"<th>meaning</th></tr>{rows}</table><p>Machine-readable: "
            f"<a href=/openapi.json>/openapi.json</a></p>")
    return Response(page, mimetype="text/html")


@bp.get("/problems/<kind>")
def problem_type(kind: str) -> dict:
    """What a problem ``type`` URI means (they resolve, as RFC 9457 recommends)."""
    if kind not in PROBLEM_TYPES:
        raise Problem(404, "unknown-problem-type", "Not Found",
                      f"no problem type {kind!r}; known: {', '.join(sorted(PROBLEM_TYPES))}")
    return {"type": f"/problems/{kind}", "description": PROBLEM_TYPES[kind]}


@bp.get("/metrics")
def metrics() -> Response:
    body, content_type = current_app.extensions["riskmodel.metrics"].exposition()
    return Response(body, content_type=content_type)
