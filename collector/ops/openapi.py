"""The OpenAPI 3.1 description served at /openapi.json (schemathesis tests the collector
against it).  Message fields mirror collector/validate/schema.py."""

from __future__ import annotations

from typing import Any

from collector.types import MESSAGE_TYPES

_ERR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_ERR_RESP = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_RESULT = {
    "type": "object", "required": ["accepted", "rejected"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 0},
        "rejected": {"type": "array", "items": {
            "type": "object", "required": ["index", "field", "reason"],
            "properties": {"index": {"type": "integer"}, "field": {"type": "string"}, "reason": {"type": "string"}}}},
        "dropped": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}
_CONTEXT = {"type": "object", "properties": {
    "page": {"type": "object", "properties": {k: {"type": "string"} for k in ("url", "path", "referrer", "title", "search")}},
    "userAgent": {"type": "string"}, "ip": {"type": "string"}, "locale": {"type": "string"},
    "consent": {"type": "object", "properties": {"analytics": {"enum": ["granted", "denied", "pending"]}}},
    "sessionId": {"type": "string"}, "seq": {"type": "integer", "minimum": 0}, "pageViewId": {"type": "string"},
    "library": {"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": "string"}}},
}}
_MESSAGE = {"type": "object", "required": ["type"], "properties": {
    "type": {"enum": list(MESSAGE_TYPES)}, "messageId": {"type": "string"}, "anonymousId": {"type": "string"},
    "userId": {"type": "string"}, "previousId": {"type": "string"}, "groupId": {"type": "string"},
    "event": {"type": "string"}, "name": {"type": "string"}, "timestamp": {"type": "string", "format": "date-time"},
    "sentAt": {"type": "string", "format": "date-time"}, "properties": {"type": "object"},
    "traits": {"type": "object"}, "context": {"$ref": "#/components/schemas/Context"},
}}
_INGEST_RESPONSES = {
    "200": {"description": "per-message verdicts", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}}},
    "400": {"description": "not a batch, not JSON, or (single-message endpoints) the message was rejected",
            "content": {"application/json": {"schema": {"oneOf": [{"$ref": "#/components/schemas/Error"},
                                                                   {"$ref": "#/components/schemas/Result"}]}}}},
    **{code: _ERR_RESP for code in ("401", "403", "413", "415", "429", "503")},
}


def _ingest(summary: str, schema: dict[str, Any]) -> dict[str, Any]:
    body = {"required": True, "content": {"application/json": {"schema": schema}, "text/plain": {"schema": schema}}}
    return {"post": {"summary": summary, "security": [{"writeKey": []}], "requestBody": body,
                     "responses": _INGEST_RESPONSES}}


def _admin_post(summary: str, schema: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    return {"post": {"summary": summary, "security": [{"admin": []}],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
                     "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": result}}},
                                   **{c: _ERR_RESP for c in ("400", "401", "403", "413", "415")}}}}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/v1/batch": _ingest("Segment batch", {"type": "object", "required": ["batch"], "properties": {
            "batch": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
            "sentAt": {"type": "string", "format": "date-time"}, "writeKey": {"type": "string"}}}),
        "/v1/sql": _admin_post("Read-only SQL", {"type": "object", "required": ["sql"], "properties": {
            "sql": {"type": "string"}, "params": {"type": "object"}}},
            {"type": "object", "required": ["columns", "rows"], "properties": {
                "columns": {"type": "array", "items": {"type": "string"}}, "rows": {"type": "array"}}}),
        "/healthz": {"get": {"summary": "alive", "responses": {"200": {"description": "alive"}}}},
        "/readyz": {"get": {"summary": "storage reachable and buffer not full",
                            "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/v1/sites/{key}/config": {"get": {
            "summary": "public site settings for the tag",
            "parameters": [{"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "settings", "content": {"application/json": {"schema": {"type": "object"}}}},
                          "404": _ERR_RESP}}},
    }
    for t in MESSAGE_TYPES:
        paths[f"/v1/{t}"] = _ingest(f"one {t} message", {"$ref": "#/components/schemas/Message"})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Footpath collector", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERR, "Result": _RESULT, "Message": _MESSAGE, "Context": _CONTEXT},
            "securitySchemes": {"writeKey": {"type": "http", "scheme": "basic"},
                                "admin": {"type": "http", "scheme": "bearer"}},
        },
    }
