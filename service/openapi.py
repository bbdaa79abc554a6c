"""The OpenAPI 3.1 document, generated from the same schema object as the validation."""

from __future__ import annotations

from typing import Any

from riskmodel import (
    FACTORS,
    FAMILIES,
    MAX_ERRORS,
    OUT_OF_DEPTH_CODES,
    REASON_CODES,
    REASON_LEVELS,
    SCHEMA,
    VERDICTS,
    WARNING_CODES,
    Column,
    __version__,
)

_TYPES = {"string": "string", "category": "string", "integer": "integer",
          "number": "number", "boolean": "boolean", "date": "string"}


def column_schema(col: Column) -> dict:
    s: dict = {"type": _TYPES[col.kind], "description": col.description}
    if col.kind == "category":
        s["enum"] = list(col.categories)
    if col.kind == "string":
        # printable, and not blank (blank is empty: "is required"): at least one character
        # other than a space; the only printable blank is the space
        s.update(minLength=1, maxLength=col.max_length,
                 pattern=r"^ *[^ \x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")
    if col.minimum is not None:
        s["exclusiveMinimum" if col.exclusive_minimum else "minimum"] = col.minimum
    if col.maximum is not None:
        s["maximum"] = col.maximum
    if not col.required:
        s["type"] = [s["type"], "null"]
        if "enum" in s:
            s["enum"] = s["enum"] + [None]
    return s


def _problem(description: str, with_errors: bool = False) -> dict:
    schema = {"$ref": "#/components/schemas/ProblemWithErrors" if with_errors
              else "#/components/schemas/Problem"}
    return {"description": description,
            "content": {"application/problem+json": {"schema": schema}}}


def _one_or_many(schema: str, key: str, limit: int) -> dict:
    """A request body of one object, or ``{key: [objects]}`` of at most ``limit``."""
    ref = {"$ref": f"#/components/schemas/{schema}"}
    batch = {"type": "object", "required": [key], "additionalProperties": False,
             "properties": {key: {"type": "array", "minItems": 1, "maxItems": limit,
                                  "items": ref}}}
    return {"required": True,
            "content": {"application/json": {"schema": {"oneOf": [ref, batch]}}}}


def build_openapi(max_campaigns: int, max_top_k: int) -> dict:
    """The document: every route, every status it can return, the campaign schema."""
    campaign = {
        "type": "object",
        "description": "One planned campaign, in the data contract. Optional fields may be "
                       "null or absent: unknown at planning time is scored as unknown.",
        "properties": {c.name: column_schema(c) for c in SCHEMA.columns},
        "required": [c.name for c in SCHEMA.columns if c.required],
        "additionalProperties": False,
    }
    number = {"type": "number"}
    factor = {
        "type": "object",
        "required": ["factor", "columns", "value", "family", "log_odds",
                     "probability_points", "direction", "actionable"],
        "properties": {
            "factor": {"type": "string", "enum": [f.name for f in FACTORS]},
            "columns": {"type": "array", "items": {"type": "string"}},
            "value": {"type": ["string", "number", "boolean", "null"]},
            "family": {"type": "string", "enum": list(FAMILIES)},
            "log_odds": number, "probability_points": number,
            "direction": {"type": "string", "enum": ["raises", "lowers"]},
            "actionable": {"type": "boolean"},
            "reason": {"type": ["string", "null"]},
            "mitigation": {"type": ["string", "null"]},
            "what_if": {"oneOf": [{"type": "null"}, {
                "type": "object", "required": ["target", "failure_risk", "change"],
                "properties": {"target": {"type": "string"},
                               "failure_risk": {"type": "number", "minimum": 0,
                                                "maximum": 1},
                               "change": number}}]},
        },
    }
    warning = {"type": "object", "required": ["code", "column", "message", "threshold"],
               "properties": {"code": {"type": "string",
                                       "enum": list(WARNING_CODES)},
                              "column": {"type": "string"}, "message": {"type": "string"},
                              "threshold": {"type": "string"},
                              "value": {"type": ["number", "boolean", "null"]}}}
    out_of_depth = {
        "type": "object",
        "description": "A factor of the campaign where the model has little or no data: a "
                       "number beyond the range it was trained on (training_range), a level "
                       "or an unknown seen in few training campaigns (training_count). "
                       "Information only: the score is the model's.",
        "required": ["factor", "code", "value", "message", "training_range",
                     "training_count"],
        "properties": {
            "factor": {"type": "string", "enum": [f.name for f in FACTORS]},
            "code": {"type": "string", "enum": list(OUT_OF_DEPTH_CODES)},
            "value": {"type": ["string", "number", "boolean", "null"]},
            "message": {"type": "string"},
            "training_range": {"oneOf": [{"type": "null"}, {
                "type": "array", "items": number, "minItems": 2, "maxItems": 2}]},
            "training_count": {"type": "integer", "minimum": 0},
        },
    }
    plan_step = {
        "type": "object",
        "description": "One change of the campaign's plan and its risk once this change and "
                       "the ones before it are made (re-scored jointly).",
        "required": ["factor", "target", "mitigation", "failure_risk", "change"],
        "properties": {
            "factor": {"type": "string", "enum": [f.name for f in FACTORS]},
            "target": {"type": "string"}, "mitigation": {"type": "string"},
            "failure_risk": {"type": "number", "minimum": 0, "maximum": 1},
            "change": number,
        },
    }
    result = {
        "type": "object",
        "required": ["campaign_id", "failure_risk", "risk_band", "log_odds", "base_value",
                     "top_factors", "family_totals", "contributions", "warnings",
                     "out_of_depth", "plan", "plan_failure_risk", "plan_risk_band",
                     "model_version"],
        "properties": {
            "campaign_id": {"type": "string"},
            "failure_risk": {"type": "number", "minimum": 0, "maximum": 1},
            "risk_band": {"type": "string", "enum": ["low", "medium", "high"]},
            "log_odds": number, "base_value": number,
            "top_factors": {"type": "array", "items": {"$ref": "#/components/schemas/Factor"}},
            "family_totals": {"type": "object",
                              "properties": {f: number for f in FAMILIES}},
            "contributions": {"type": "object",
                              "properties": {f.name: number for f in FACTORS}},
            "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Warning"}},
            "out_of_depth": {"type": "array",
                             "items": {"$ref": "#/components/schemas/OutOfDepth"}},
            "plan": {"type": "array", "items": {"$ref": "#/components/schemas/PlanStep"},
                     "description": "The shortest sequence of actionable changes the greedy "
                                    "search finds that brings the campaign into the low "
                                    "band, or as low as they can; empty when already low."},
            "plan_failure_risk": {"type": "number", "minimum": 0, "maximum": 1},
            "plan_risk_band": {"type": "string", "enum": ["low", "medium", "high"]},
            "escalation": {"type": ["string", "null"]},
            "model_version": {"type": "string"},
        },
    }
    field_error = {"type": "object", "required": ["column", "problem", "allowed", "message"],
                   "properties": {"row": {"type": ["integer", "null"]},
                                  "column": {"type": "string"}, "problem": {"type": "string"},
                                  "allowed": {"type": "string"}, "received": {},
                                  "received_length": {
                                      "type": "integer", "description": "Characters in the "
                                      "text received, when longer than the 64 shown."},
                                  "message": {"type": "string"},
                                  "pointer": {"type": "string"}}}
    problem = {"type": "object", "required": ["type", "title", "status"],
               "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                              "status": {"type": "integer"}, "detail": {"type": "string"},
                              "request_id": {"type": ["string", "null"]},
                              "reason": {"type": "string", "description":
                                         "What the core found, in English, where the "
                                         "detail says it in the request's language "
                                         "(409 cannot-monitor)."}}}
    problem_with_errors = {"allOf": [{"$ref": "#/components/schemas/Problem"}, {
        "type": "object",
        "properties": {"errors": {"type": "array", "maxItems": MAX_ERRORS,
                                  "items": {"$ref": "#/components/schemas/FieldError"}},
                       "errors_omitted": {"type": "integer", "minimum": 1,
                                          "description": "Errors found beyond those "
                                                         "listed."}}}]}
    json_body = {"application/json": {"schema": {"type": "object"}}}
    # the verdict and its reasons; the result's other keys (window, input_drift,
    # score_drift, performance, policy...) as docs/monitoring.md describes them
    monitoring_reason = {
        "type": "object", "required": ["code", "level", "params"],
        "description": "One reason of the verdict as a stable code with its parameters "
                       "(docs/monitoring.md, \"The reasons as codes\").",
        "properties": {
            "code": {"type": "string", "enum": list(REASON_CODES)},
            "level": {"type": "string", "enum": list(REASON_LEVELS),
                      "description": "The verdict this reason calls for on its own."},
            "params": {"type": "object", "description": "The reason's figures, by code "
                                                        "(docs/monitoring.md)."}}}
    monitoring_result = {
        "type": "object", "required": ["model_version", "verdict", "reasons", "reason_codes"],
        "properties": {
            "model_version": {"type": "string"},
            "verdict": {"type": "string", "enum": list(VERDICTS)},
            "reasons": {"type": "array", "items": {"type": "string"},
                        "description": "The reasons in English for operators, most serious "
                                       "first; the wording may change: a program reads "
                                       "reason_codes."},
            "reason_codes": {"type": "array",
                             "items": {"$ref": "#/components/schemas/MonitoringReason"},
                             "description": "The same reasons in the same order, as codes "
                                            "with their parameters."}}}
    outcome: dict[str, Any] = {
        "type": "object",
        "description": "What happened to a campaign. A campaign never scored before its "
                       "completion needs its plan: without one the outcome is refused with "
                       "409 unknown-campaign (what is missing depends on the store's state, "
                       "which a schema cannot express).",
        "required": ["campaign_id", "failed"],
        "additionalProperties": False,
        "properties": {
            "campaign_id": column_schema(SCHEMA["campaign_id"]),
            **{c.name: column_schema(c) for c in SCHEMA.outcome_columns},
            "correction": {"type": "boolean",
                           "description": "Replace an outcome already recorded."},
            "plan": {"allOf": [{"$ref": "#/components/schemas/Campaign"}],
                     "description": "The campaign's plan as scored. Its campaign_id must be "
                                    "the outcome's (422 otherwise)."},
        },
        # a success has no failure reason
        "if": {"properties": {"failed": {"const": False}}, "required": ["failed"]},
        "then": {"properties": {"failure_reason": {"type": "null"}}},
    }
    outcome["properties"]["completed_on"]["format"] = "date"
    unauthorized = _problem("No API key, or a wrong one.")
    bad_body = _problem("The body is not valid JSON, names a member twice in one object, "
                        "ended before its Content-Length, or is not the gzip it says.")
    too_large = _problem("Body over the size limit (as sent, or decompressed).")
    bad_type = _problem("The body is not application/json, or has a Content-Encoding other "
                        "than gzip (Accept-Encoding names those taken).")
    server_error = _problem("Unexpected failure (logged with the request id).")
    return {
        "openapi": "3.1.0",
        "info": {"title": "riskmodel", "version": __version__,
                 "description": "Failure risk of Amazon co-op campaigns before launch: "
                                "calibrated risk, band, exact contributing factors, what to "
                                "do about each."},
        "paths": {
            "/v1/score": {"post": {
                "summary": "Score one campaign, or up to the configured maximum.",
                "parameters": [{"name": "top_k", "in": "query", "required": False,
                                "description": "How many factors to explain per campaign.",
                                "schema": {"type": "integer", "minimum": 0,
                                           "maximum": max_top_k}}],
                "requestBody": _one_or_many("Campaign", "campaigns", max_campaigns),
                "responses": {
                    "200": {"description": "Scores, in the order of the campaigns.",
                            "content": {"application/json": {"schema": {
                                "$ref": "#/components/schemas/ScoreResponse"}}}},
                    "400": bad_body,
                    "413": too_large,
                    "415": bad_type,
                    "422": _problem("Invalid campaigns or parameters, every field named; or "
                                    "more campaigns than the limit.", with_errors=True),
                    "401": unauthorized,
                    "500": server_error,
                    "503": _problem("No verified model is loaded."),
                }}},
            "/v1/outcomes": {"post": {
                "summary": "Record outcomes of finished campaigns (idempotent per campaign).",
                "security": [{"bearer": []}, {"apiKey": []}],
                "requestBody": _one_or_many("Outcome", "outcomes", max_campaigns),
                "responses": {
                    "200": {"description": "Per outcome: created, unchanged or corrected.",
                            "content": json_body},
                    "400": bad_body,
                    "401": unauthorized,
                    "409": _problem("An outcome differs from the recorded one "
                                    "(outcome-conflict), or its campaign was never scored "
                                    "before completion and no plan was sent "
                                    "(unknown-campaign).", with_errors=True),
                    "413": too_large,
                    "415": bad_type,
                    "422": _problem("Invalid outcomes, every field named.", with_errors=True),
                    "500": server_error,
                    "503": _problem("The store cannot be reached."),
                }}},
            "/v1/monitoring": {"get": {
                "summary": "Drift, realized performance and the verdict (docs/monitoring.md); "
                           "the same JSON as `riskmodel monitor --json`.",
                "security": [{"bearer": []}, {"apiKey": []}],
                "parameters": [
                    {"name": n, "in": "query", "required": False,
                     "description": d, "schema": {"type": "string", "format": "date"}}
                    for n, d in (("since", "First day of the window (UTC, included)."),
                                 ("until", "Day after the window (UTC, excluded)."))],
                "responses": {
                    "200": {"description": "The monitoring result.",
                            "content": {"application/json": {"schema": {
                                "$ref": "#/components/schemas/MonitoringResult"}}}},
                    "401": unauthorized,
                    "409": _problem("Nothing to monitor: no campaign scored in the window, "
                                    "or no reference statistics."),
                    "422": _problem("since or until is not a date, or until is not after "
                                    "since."),
                    "500": server_error,
                    "503": _problem("No model is loaded, or the store cannot be reached."),
                }}},
            "/v1/model": {"get": {
                "summary": "The model version in service: metrics, bands, schema, creation, and "
                           "how it attributes interactions (attribution).",
                "responses": {"200": {"description": "The model.", "content": json_body},
                              "500": server_error,
                              "503": _problem("No verified model is loaded.")}}},
            "/healthz": {"get": {"summary": "The process is alive.",
                                 "responses": {"200": {"description": "Alive.",
                                                       "content": json_body},
                                               "500": server_error}}},
            "/readyz": {"get": {"summary": "A verified model is loaded.",
                                "responses": {"200": {"description": "Ready.",
                                                      "content": json_body},
                                              "500": server_error,
                                              "503": {"description": "Not ready, and why.",
                                                      "content": json_body}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics.",
                                 "responses": {"200": {"description": "Metrics.",
                                                       "content": {"text/plain": {
                                                           "schema": {"type": "string"}}}},
                                               "500": server_error}}},
            "/problems/{kind}": {"get": {
                "summary": "What a problem type means.",
                "parameters": [{"name": "kind", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The type and its description.",
                                      "content": json_body},
                              "404": _problem("No such problem type."),
                              "500": server_error}}},
            "/openapi.json": {"get": {"summary": "This document.",
                                      "responses": {"200": {"description": "OpenAPI 3.1.",
                                                            "content": json_body},
                                                    "500": server_error}}},
        },
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {
            "Campaign": campaign,
            "Outcome": outcome,
            "Factor": factor,
            "Warning": warning,
            "OutOfDepth": out_of_depth,
            "PlanStep": plan_step,
            "Result": result,
            "ScoreResponse": {"type": "object",
                              "required": ["request_id", "model_version", "results"],
                              "properties": {"request_id": {"type": "string"},
                                             "model_version": {"type": "string"},
                                             "results": {"type": "array", "items": {
                                                 "$ref": "#/components/schemas/Result"}}}},
            "MonitoringResult": monitoring_result,
            "MonitoringReason": monitoring_reason,
            "FieldError": field_error,
            "Problem": problem,
            "ProblemWithErrors": problem_with_errors,
        }},
    }
