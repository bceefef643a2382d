"""The OpenAPI 3.1 description served at /openapi.json: every HTTP endpoint except the
static pages and scripts listed in NON_API (tests/collector/test_openapi.py walks the
app's routes and fails on an undocumented one; schemathesis drives the collector from this
document).  Message fields mirror collector/validate/schema.py; report requests mirror
collector/reports/spec.py, attribution collector/attribution/request.py, experiments
collector/experiments/http.py, plans and quarantine collector/plans/api.py, quality
collector/quality/api.py, persons collector/query/persons.py."""

from __future__ import annotations

from typing import Any

from collector.attribution.channels import CHANNEL_KINDS
from collector.attribution.request import MODELS
from collector.reports.spec import (
    CONTAINERS,
    MAX_DEPTH,
    MAX_STEPS,
    MAX_TOP,
    MAX_WINDOW_SECONDS,
    MODES,
    MV_DIMENSIONS,
    RAW_DIMENSIONS,
    SOURCES,
    STEP_TYPES,
)
from collector.scores.segments import LEAD_TIERS, RFM_SEGMENTS
from collector.types import INGEST_PATHS, MESSAGE_TYPES

# Routes that are pages, scripts or static files, not JSON API (path as Starlette writes it).
NON_API = {
    "/": "redirect to the demo page (or a plain-text banner)", "/favicon.ico": "no icon (204)",
    "/t.js": "the browser tag", "/t/{name:str}.js": "tag variants (ac.js, exp.js, ...)",
    "/demo": "static demo pages", "/__fixtures__": "test fixture pages (test_fixtures setting only)",
    "/reports": "report page (HTML)", "/reports/{name:str}": "report page assets",
    "/quality": "quality page (HTML)", "/quality.js": "quality page script",
    "/experiments": "experiments page (HTML)",
}

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
    "consent": {"type": "object", "properties": {
        "analytics": {"enum": ["granted", "denied", "pending"]},
        "categoryPreferences": {"type": "object", "additionalProperties": {"type": "boolean"},
                                "description": "Segment consent management: the site's consent_category decides"}}},
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


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ok(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": _json_content(schema)}


def _errors(*codes: str) -> dict[str, Any]:
    return {c: _ERR_RESP for c in codes}


def _query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _admin_post(summary: str, schema: dict[str, Any], result: dict[str, Any], codes: tuple[str, ...] = (),
                description: str = "") -> dict[str, Any]:
    op = {"summary": summary, "security": [{"admin": []}],
          "requestBody": {"required": True, "content": _json_content(schema)},
          "responses": {"200": _ok(result), **_errors("400", "401", "413", "415", *codes)}}
    if description:
        op["description"] = description
    return {"post": op}


def _sql_op() -> dict[str, Any]:
    op = _admin_post("Read-only SQL, one statement per request", {"type": "object", "required": ["sql"], "properties": {
        "sql": {"type": "string"}, "params": {"type": "object"}}},
        {"type": "object", "required": ["columns", "rows"], "properties": {
            "columns": {"type": "array", "items": {"type": "string"}}, "rows": {"type": "array"}}},
        ("403",), "A body that starts with `{` is the JSON form; any other body is the statement itself "
                  "(as ClickHouse's HTTP interface takes it), its `{name:Type}` values given as "
                  "`param_name=value` in the query string.")
    op["post"]["requestBody"]["content"]["text/plain"] = {"schema": {"type": "string"}}
    return op


def _admin_get(summary: str, params: list[dict[str, Any]], result: dict[str, Any],
               codes: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"get": {"summary": summary, "security": [{"admin": []}], "parameters": params,
                    "responses": {"200": _ok(result), **_errors("401", *codes)}}}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_BOOL = {"type": "boolean"}
_NULL_NUM = {"type": ["number", "null"]}
_TIME = {"type": "string", "description": "UTC date YYYY-MM-DD or ISO 8601 datetime (naive = UTC)"}
_SCALAR = {"type": ["string", "number", "boolean"]}


def _obj(props: dict[str, Any], required: tuple[str, ...] = (), **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props, **kw}
    if required:
        out["required"] = list(required)
    return out


def _arr(items: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **kw}


# -- report requests (collector/reports/spec.py) ------------------------------------------------
_STEP_FIELDS = {
    "type": {"enum": [*STEP_TYPES, None]},
    "event": {"type": ["string", "null"], "description": "track event name, or screen/page name"},
    "path": {"type": ["string", "null"], "description": "page path glob: * any characters, ? one"},
    "properties": {"type": ["object", "null"], "description": "property -> value or list of values (any of)",
                   "additionalProperties": {"anyOf": [_SCALAR, _arr(_SCALAR)]}},
}
_STEP = _obj({**_STEP_FIELDS, "label": {"type": ["string", "null"]}},
             description="A step: give at least one of type, event, path, properties.")
_EVENT_FILTER = _obj({
    **_STEP_FIELDS, "did": _BOOL, "from": _TIME, "to": _TIME, "since": _TIME},
    description="Persons who did (did: false -- did not) a matching event in [from or since, to).")
_RANGE_1_5 = {"anyOf": [_arr({"type": "integer", "minimum": 1, "maximum": 5}, minItems=2, maxItems=2),
                        _obj({"min": {"type": "integer", "minimum": 1, "maximum": 5},
                              "max": {"type": "integer", "minimum": 1, "maximum": 5}})]}
_SCORE_FILTER = _obj({
    "rfm_segment": {"anyOf": [{"enum": list(RFM_SEGMENTS)}, _arr({"enum": list(RFM_SEGMENTS)}, minItems=1)],
                    "description": "named RFM segment(s), any of; case-insensitive"},
    "rfm": _obj({"r": _RANGE_1_5, "f": _RANGE_1_5, "m": _RANGE_1_5}, description="RFM quintile score ranges"),
    "lead_tier": {"anyOf": [{"enum": list(LEAD_TIERS)}, _arr({"enum": list(LEAD_TIERS)}, minItems=1)]},
    "lead_score": {"anyOf": [_arr({"type": "integer", "minimum": 0, "maximum": 100}, minItems=2, maxItems=2),
                             _obj({"min": {"type": "integer", "minimum": 0, "maximum": 100},
                                   "max": {"type": "integer", "minimum": 0, "maximum": 100}})]},
}, description="Person-score filter (docs/reports.md): every key given must hold.")
_SEGMENT = {"type": ["object", "null"], "properties": {
    "match": {"enum": ["all", "any"]},
    "filters": _arr({"anyOf": [_ref("EventFilter"), _ref("ScoreFilter")]}, minItems=1, maxItems=10)},
    "required": ["filters"]}
_COMMON = {
    "site": _STR, "from": _TIME, "to": _TIME, "container": {"enum": list(CONTAINERS)},
    "include_bots": _BOOL, "source": {"enum": list(SOURCES)},
}
_FALLOUT_REQ = _obj({
    **_COMMON,
    "steps": _arr(_ref("Step"), minItems=1, maxItems=MAX_STEPS),
    "window_seconds": {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_SECONDS},
    "mode": {"enum": list(MODES)},
    "breakdown": {"type": ["string", "null"],
                  "description": "one of " + ", ".join(MV_DIMENSIONS + RAW_DIMENSIONS) + ", or properties.<name>"},
    "breakdown_limit": {"type": "integer", "minimum": 1, "maximum": 200},
    "segment": _ref("Segment"),
}, ("site", "steps"))
_PATHS_REQ = _obj({
    **_COMMON,
    "start": {"anyOf": [_ref("Step"), {"type": "null"}]}, "end": {"anyOf": [_ref("Step"), {"type": "null"}]},
    "depth": {"type": "integer", "minimum": 1, "maximum": MAX_DEPTH},
    "top": {"type": "integer", "minimum": 1, "maximum": MAX_TOP},
    "collapse_repeats": _BOOL, "include_internal": _BOOL,
    "include": _arr({"enum": list(STEP_TYPES)}, minItems=1),
    "segment": _ref("Segment"),
}, ("site",))
_FALLOUT_STEP = _obj({
    "label": _STR, "entered": _INT, "continued": _INT, "fell_out": _INT,
    "conversion_from_first": _NUM, "conversion_from_previous": _NUM, "median_seconds_to_next": _NULL_NUM,
}, ("label", "entered", "continued", "fell_out", "conversion_from_first", "conversion_from_previous",
    "median_seconds_to_next"))
_REPORT_META = {"source": {"enum": ["mv", "raw"]}, "elapsed_ms": _NUM,
                "note": {"type": "string", "description": "why the raw table answered"},
                "request": {"type": "object", "description": "the request as understood, defaults filled in"}}
_FALLOUT_RESP = _obj({
    "steps": _arr(_ref("FalloutStep")),
    "breakdown": {"type": "object", "additionalProperties": _obj({"steps": _arr(_ref("FalloutStep"))}, ("steps",))},
    **_REPORT_META}, ("steps", "breakdown", "source", "request"))
_PATHS_RESP = _obj({
    "nodes": _arr(_obj({"id": _STR, "depth": _INT, "label": _STR, "count": _INT}, ("id", "depth", "label", "count"))),
    "links": _arr(_obj({"source": _STR, "target": _STR, "value": _INT}, ("source", "target", "value"))),
    "containers": _INT, **_REPORT_META}, ("nodes", "links", "containers", "source", "request"))

# -- experiments, attribution --------------------------------------------------------------------
_EXPERIMENT_REQ = _obj({"site": _STR, "experiment": _STR, "from": _TIME, "to": _TIME, "include_bots": _BOOL},
                       ("site", "experiment"))
_VARIANT_RESULT = _obj({"key": _STR, "persons": _INT, "conversions": _INT, "rate": _NULL_NUM,
                        "rate_ci": {"type": ["array", "null"]}, "uplift": _NULL_NUM,
                        "uplift_ci": {"type": ["array", "null"]}, "p_value": _NULL_NUM,
                        "chance_to_beat_control": _NULL_NUM, "weight": _NUM}, ("key", "persons"))
_EXPERIMENT_RESP = _obj({
    "experiment": _STR, "name": _STR, "site": _STR, "from": _STR, "to": _STR, "status": _STR, "allocation": _STR,
    "goal": _arr(_STR), "variants": _arr(_VARIANT_RESULT),
    "metrics": _arr(_obj({"name": _STR, "kind": {"enum": ["conversion", "value"]}, "guardrail": _BOOL,
                          "variants": _arr({"type": "object"})}, ("name", "kind", "variants"))),
    "srm_p_value": _NULL_NUM, "srm": _BOOL, "weights_served": _arr(_NUM), "unknown_variant_persons": _INT,
    "sample_size": {"type": "object"}, "sequential": {"type": "object"}, "curves": {"type": "object"},
}, ("experiment", "site", "variants", "metrics", "srm"))
_ATTRIBUTION_REQ = _obj({
    "site": _STR, "conversion": _ref("Step"), "value_property": {"type": ["string", "null"]},
    "channel": {"enum": list(CHANNEL_KINDS)}, "lookback_days": {"type": "integer", "minimum": 1, "maximum": 365},
    "container": {"enum": ["person", "session"]}, "models": _arr({"enum": list(MODELS)}, minItems=1),
    "half_life_days": {"type": "number", "exclusiveMinimum": 0, "maximum": 3650},
    "markov_order": {"type": "integer", "minimum": 1, "maximum": 4}, "from": _TIME, "to": _TIME,
    "top_paths": {"type": "integer", "minimum": 0, "maximum": 100000},
}, ("site", "conversion"))
_CREDIT = {"type": "object", "additionalProperties": _obj({"conversions": _NUM, "value": _NUM})}
_ATTRIBUTION_RESP = _obj({
    "conversions": _INT, "value": _NUM, "nulls": _INT, "channels": _arr(_STR),
    "models": {"type": "object", "description": "model -> channel -> credited conversions and value",
               "additionalProperties": _CREDIT},
    "markov": {"type": ["object", "null"]},
    "paths": _arr(_obj({"path": _arr(_STR), "conversions": _INT, "value": _NUM, "nulls": _INT})),
    "paths_total": _INT, "timings_ms": {"type": "object", "additionalProperties": _NUM},
}, ("conversions", "channels", "models"))

# -- persons -----------------------------------------------------------------------------------
_PERSON_PARAMS = [
    {"name": "site", "in": "path", "required": True, "schema": _STR},
    {"name": "ref", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[^\n]+$"},
     "description": "u:<user id>, a:<anonymous id>, or a bare id (user id first); percent-encoded; "
                    "an id holding a line feed cannot be addressed"},
]
_PERSON = _obj({
    "site": _STR, "person_id": _STR, "kind": {"enum": ["known", "anonymous"]},
    "user_ids": _arr(_STR), "anonymous_ids": _arr(_STR), "shared_anonymous_ids": _arr(_STR),
    "traits": {"type": "object"}, "first_seen": {"type": ["string", "null"]}, "last_seen": {"type": ["string", "null"]},
    "events": {"type": "object"}, "sessions": _INT, "links": _arr({"type": "object"}), "recent": _arr({"type": "object"}),
    "lead_score": {"type": ["object", "null"]},
}, ("site", "person_id", "kind", "user_ids", "anonymous_ids"))
_ERASURE = _obj({
    "site": _STR, "person_id": _STR, "kind": _STR, "dry_run": _BOOL, "user_ids": _arr(_STR),
    "anonymous_ids": _arr(_STR), "shared_anonymous_ids": _arr(_STR),
    "deleted": _obj({"events": _INT, "links": _INT, "merges": _INT,
                     "other": {"type": "object", "additionalProperties": _INT}}),
    "not_erased": _arr(_obj({"table": _STR, "reason": _STR})), "notes": _arr(_STR),
    "erasure_id": {"type": "string", "description": "the audit row's id (not on a dry run)"},
}, ("site", "person_id", "dry_run", "deleted"))

# -- plans, quarantine, quality ------------------------------------------------------------------
_PLAN_STATUS = {"type": ["object", "null"], "properties": {
    "path": _STR, "version": {"type": ["integer", "null"]}, "digest": {"type": ["string", "null"]},
    "events": _arr(_STR), "page": _BOOL, "traits": _BOOL, "allow_unplanned": {"type": ["boolean", "null"]},
    "loaded_at": {"type": ["string", "null"]}, "error": {"type": ["string", "null"]}}}
_SITE_QUERY = _query("site", _STR, "site id", required=True)
_OPT_INT = {"type": ["integer", "null"]}
_INFER_REQ = _obj({"site": _STR, "days": {**_OPT_INT, "minimum": 1, "maximum": 400},
                   "max_enum": {**_OPT_INT, "minimum": 0, "maximum": 100}}, ("site",))
_PLAN_DOC = _obj({"version": _INT, "allow_unplanned": _BOOL, "description": _STR,
                  "events": {"type": "object", "additionalProperties": {"type": "object"}},
                  "page": {"type": "object"}, "traits": {"type": "object"}}, ("version", "events"),
                 description="a draft tracking plan (collector/plans/README.md)")
_QUARANTINE = _obj({
    "site": _STR, "counts": _obj({"quarantined": _INT, "replayed": _INT}),
    "rows": _arr(_obj({"message_id": _STR, "type": _STR, "event": _STR, "timestamp": _STR, "received_at": _STR,
                       "plan_version": _INT, "reason": _STR, "properties": _STR}))}, ("site", "counts", "rows"))
_REPLAY = _obj({"site": _STR, "plan_version": _INT, "mode": _STR, "dry_run": _BOOL, "checked": _INT,
                "replayed": _INT, "already_present": _INT, "still_blocked": _INT, "plan_error": _STR},
               ("site", "dry_run", "checked", "replayed"))
_QUALITY = _obj({
    "site": _STR, "from": _STR, "to": _STR,
    "totals": _obj({"events": _INT, "checked": _INT, "violating": _INT, "unplanned": _INT, "blocked": _INT,
                    "violation_rate": _NULL_NUM}),
    "quarantine": {"type": "object"}, "completeness": {"type": "object"},
    "events": _arr(_obj({"type": _STR, "event": _STR, "label": _STR, "planned": {"type": ["boolean", "null"]}, "events": _INT,
                         "hourly": _arr({"type": "object"}), "violations": _arr({"type": "object"}),
                         "fill_rates": _arr({"type": "object"}), "violation_rate": _NULL_NUM})),
    "plan": _PLAN_STATUS, "incidents": _arr({"type": "object"}), "alerts": {"type": "object"},
    "rejected": _obj({"total": _INT, "fields": _arr(_obj({
        "field": _STR, "type": _STR, "count": _INT, "reason": _STR, "libraries": _arr(_STR), "first": _STR,
        "last": _STR, "example_message_id": _STR}))}, ("total", "fields")),
}, ("site", "from", "to", "totals", "events", "rejected"))

_REJECTED = _obj({"site": _STR, "from": _STR, "to": _STR, "messages": _arr(_obj({
    "received_at": _STR, "source": _STR, "library": _STR, "field": _STR, "reason": _STR, "type": _STR, "event": _STR,
    "message_id": _STR, "user_id": _STR, "anonymous_id": _STR, "message": _STR, "message_bytes": _INT,
    "redacted": _INT}))}, ("site", "from", "to", "messages"))


def _reports_and_admin() -> dict[str, Any]:
    report_codes = ("404", "503", "504")
    return {
        "/v1/reports/fallout": _admin_post(
            "Fallout (funnel) report", _ref("FalloutRequest"), _ref("FalloutReport"), report_codes,
            "docs/reports.md. 400 names the field ({error, field}); 404 for an unknown site."),
        "/v1/reports/paths": _admin_post(
            "Paths (Sankey) report", _ref("PathsRequest"), _ref("PathsReport"), report_codes, "docs/reports.md."),
        "/v1/reports/experiment": _admin_post(
            "Experiment results", _EXPERIMENT_REQ, _EXPERIMENT_RESP, ("404", "503"),
            "collector/experiments/README.md: per-variant conversion, uplift, intervals, SRM, sequential test."),
        "/v1/reports/attribution": _admin_post(
            "Multi-touch attribution", _ATTRIBUTION_REQ, _ATTRIBUTION_RESP, ("404", "503"),
            "collector/attribution/README.md: credit per channel for each model."),
        "/v1/reports/sites": _admin_get("Site ids (for the report pages)", [],
                                        _obj({"sites": _arr(_STR)}, ("sites",))),
        "/v1/persons/{site}/{ref}": {
            "get": {"summary": "A person: ids, traits, counts, recent events, lead score",
                    "security": [{"admin": []}],
                    "parameters": [*_PERSON_PARAMS, _query("recent", {"type": "integer", "minimum": 0, "maximum": 200},
                                                           "how many recent events (default 20)")],
                    "responses": {"200": _ok(_PERSON), **_errors("400", "401", "404", "409", "503")}},
            "delete": {"summary": "Right to erasure: delete the person's events, links and rows elsewhere",
                       "security": [{"admin": []}],
                       "parameters": [*_PERSON_PARAMS, _query("dry_run", {"enum": ["1", "true", "yes", "0", "false"]},
                                                              "count without deleting")],
                       "responses": {"200": _ok(_ERASURE), **_errors("400", "401", "404", "409", "503")}},
        },
        "/v1/plans": _admin_get("The tracking plan in force", [_SITE_QUERY],
                                _obj({"site": _STR, "mode": {"enum": ["observe", "strip", "block"]},
                                      "plan": _PLAN_STATUS}, ("site", "plan")), ("400", "404")),
        "/v1/plans/infer": _admin_post("Draft a tracking plan from stored events", _INFER_REQ, _PLAN_DOC,
                                       ("404", "503")),
        "/v1/quarantine": _admin_get("Quarantined messages (plan block mode)", [
            _SITE_QUERY, _query("status", {"enum": ["quarantined", "replayed"]}, "default quarantined"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000}, "default 100")],
            _QUARANTINE, ("400", "404", "503")),
        "/v1/quarantine/replay": _admin_post(
            "Replay quarantined messages that pass the plan now", _obj({"site": _STR, "dry_run": _BOOL}, ("site",)),
            _REPLAY, ("404", "503")),
        "/v1/quality": _admin_get("Data-quality report", [
            _SITE_QUERY, _query("from", _TIME, "default: 24 hours before to"), _query("to", _TIME, "default: now")],
            _QUALITY, ("400", "404", "503")),
        "/v1/rejected": _admin_get("Messages the collector refused (footpath.rejected_messages), newest first", [
            _SITE_QUERY, _query("from", _TIME, "default: 24 hours before to"), _query("to", _TIME, "default: now"),
            _query("field", _STR, "only this field's rejections (as the response names it)"),
            _query("limit", _INT, "1-1000, default 100")], _REJECTED, ("400", "404", "503")),
        "/v1/experiments": _admin_get("Configured experiments and their weights", [], _obj({"experiments": _arr(_obj({
            "site": _STR, "key": _STR, "name": _STR, "status": _STR, "allocation": _STR, "variants": _arr(_STR),
            "weights": _arr(_NUM)}, ("site", "key", "variants", "weights")))}, ("experiments",))),
        "/v1/experiments/assign": {"get": {
            "summary": "The variant of a unit (authenticated like ingestion: public key + allowed Origin, or write key)",
            "security": [{"writeKey": []}, {"publicKey": []}],
            "parameters": [_query("experiment", _STR, "experiment key", required=True),
                           _query("anonymous_id", _STR, "unit of assignment (or user_id)"),
                           _query("user_id", _STR, "unit of assignment, preferred over anonymous_id"),
                           _query("site", _STR, "optional: must be the key's site")],
            "responses": {"200": _ok(_obj({"experiment": _STR, "variant": _STR, "running": _BOOL},
                                          ("experiment", "variant", "running"))),
                          **_errors("400", "401", "403", "404")}}},
        "/v1/admin/flush": {"post": {
            "summary": "Wait until everything acknowledged is stored and visible to reports",
            "security": [{"admin": []}],
            "responses": {"200": _ok(_obj({"flushed": _BOOL}, ("flushed",))), **_errors("401", "409"),
                          "503": _ok(_obj({"flushed": _BOOL}, ("flushed",)), "not drained within 30 s")}}},
    }


def _preflight(path: str) -> dict[str, Any]:
    return {"options": {
        "summary": f"CORS preflight for {path}",
        "parameters": [{"name": "Origin", "in": "header", "required": False, "schema": _STR}],
        "responses": {"204": {"description": "the origin is one a site lists"}, "403": _ERR_RESP}}}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/v1/batch": {**_ingest("Segment batch", {"type": "object", "required": ["batch"], "properties": {
            "batch": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
            "sentAt": {"type": "string", "format": "date-time"}, "writeKey": {"type": "string"},
            "context": {"type": "object", "description": "every message's context; a key a message sets wins"}}}),
            **_preflight("/v1/batch")},
        "/v1/sql": _sql_op(),
        "/openapi.json": {"get": {"summary": "this document", "responses": {"200": _ok({"type": "object"})}}},
        "/healthz": {"get": {"summary": "alive", "responses": {"200": _ok(_obj({"status": _STR}), "alive")}}},
        "/readyz": {"get": {"summary": "storage reachable and buffer not full", "responses": {
            "200": _ok(_obj({"ready": _BOOL, "problems": _arr(_STR)}), "ready"),
            "503": _ok(_obj({"ready": _BOOL, "problems": _arr(_STR)}), "not ready")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/v1/projects/{key}/settings": {"get": {
            "summary": "analytics.js settings (its cdnURL): its Segment.io destination aimed at this collector",
            "parameters": [{"name": "key", "in": "path", "required": True, "schema": {"type": "string"},
                            "description": "the site's public key, analytics.js's writeKey"}],
            "responses": {"200": {"description": "settings", "content": {"application/json": {"schema": {"type": "object"}}}},
                          "404": _ERR_RESP}}},
        "/v1/sites/{key}/config": {"get": {
            "summary": "public site settings for the tag",
            "parameters": [{"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "settings", "content": {"application/json": {"schema": {"type": "object"}}}},
                          "404": _ERR_RESP}}},
        **_reports_and_admin(),
    }
    for t in MESSAGE_TYPES:
        paths[f"/v1/{t}"] = {**_ingest(f"one {t} message", {"$ref": "#/components/schemas/Message"}),
                             **_preflight(f"/v1/{t}")}
    # The names Segment's libraries post to (collector/types.py): the same endpoints.
    for path, t in INGEST_PATHS.items():
        if path not in paths:
            same = f"/v1/{t}" if t else "/v1/batch"
            who = "the Java, Ruby and .NET libraries'" if path.startswith("/v1/import") else "analytics.js's"
            paths[path] = {method: {**op, "summary": f"{op['summary']} ({who} name for {same})"}
                           for method, op in paths[same].items()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Footpath collector", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERR, "Result": _RESULT, "Message": _MESSAGE, "Context": _CONTEXT,
                        "Step": _STEP, "EventFilter": _EVENT_FILTER, "ScoreFilter": _SCORE_FILTER,
                        "Segment": _SEGMENT, "FalloutRequest": _FALLOUT_REQ, "FalloutStep": _FALLOUT_STEP,
                        "FalloutReport": _FALLOUT_RESP, "PathsRequest": _PATHS_REQ, "PathsReport": _PATHS_RESP},
            "securitySchemes": {
                "writeKey": {"type": "http", "scheme": "basic", "description": "a site's write key as the user name"},
                "publicKey": {"type": "apiKey", "in": "query", "name": "key",
                              "description": "a site's public key, with an Origin the site lists"},
                "admin": {"type": "http", "scheme": "bearer", "description": "the admin_token setting"}},
        },
    }
