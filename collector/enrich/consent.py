"""Consent enforcement at the edge: the collector never trusts the tag alone.

Effective state of a message, first match wins:
  1. the site honours GPC and the request carries Sec-GPC: 1        -> denied, unless the
     message states context.consent.analytics = "granted": the visitor's own choice (a
     banner click) wins over the browser's signal (the tag states it under GPC only after
     an explicit consent('granted'), sdk_js/README.md)
  2. context.consent.analytics in the message                       -> that state
  3. context.consent.categoryPreferences (Segment's consent management), an object: the
     site's consent_category consented (true)                        -> granted; false or
     not listed (an empty object too)                                -> denied
  4. browser source: the site's consent_default; server source: server_consent_default
Under granted the row is stored whole.  Under denied or pending the site's denied_mode
decides: "drop" stores nothing; "anonymize" stores a row with no identifier (no ids, no
IP, no full user agent, no traits, no city/region/ASN, of `context` only the library, the
app, the OS name and the device's type, maker and model), and identify/alias/group
messages, which exist only to identify, are dropped."""

from __future__ import annotations

import orjson

from collector.sites import Site
from collector.types import ConsentState, Row, Source

IDENTITY_TYPES = frozenset({"identify", "alias", "group"})
# What of `context` an anonymised row keeps: the software and the class of device, nothing
# that tells one device or person from another.  Apps put identifiers there (device.id,
# device.advertisingId, device.token, instanceId; React Native copies the user's traits
# into context.traits), and a sender may add anything: an allowlist, not a denylist.
# Screen, timezone and network go too: with model and locale they narrow a device down.
CONTEXT_KEPT_WHEN_DENIED = {"library": None, "app": None, "os": ("name",), "device": ("type", "manufacturer", "model")}
STRIPPED_WHEN_DENIED = ("anonymous_id", "user_id", "group_id", "previous_id", "session_id", "page_view_id",
                        "ip", "user_agent", "region", "city", "as_org", "browser_version", "os_version")


def effective_state(site: Site, source: Source, stated: str | None, gpc_header: bool,
                    categories: dict[str, bool] | None = None) -> ConsentState:
    if site.gpc and gpc_header:
        return "granted" if stated == "granted" else "denied"
    if stated in ("granted", "denied", "pending"):
        return stated  # type: ignore[return-value]
    if categories is not None:
        # Category names are the site's own (its consent manager's); compared case-insensitively.
        # A category the preferences leave out was not consented to.
        want = site.consent_category.casefold()
        return "granted" if any(v is True and k.casefold() == want for k, v in categories.items()) else "denied"
    default = site.consent_default if source == "browser" else site.server_consent_default
    return default  # type: ignore[return-value]


def enforce(site: Site, state: ConsentState, msg_type: str, row: Row) -> str | None:
    """Mutates row for anonymised storage; returns a drop reason or None."""
    row["consent_analytics"] = state
    if state == "granted":
        return None
    reason = "consent_denied" if state == "denied" else "consent_pending"
    if site.denied_mode == "drop" or msg_type in IDENTITY_TYPES:
        return reason
    for col in STRIPPED_WHEN_DENIED:
        row[col] = ""
    row["asn"] = 0
    row["seq"] = 0
    row["traits"] = "{}"
    if row["context"] != "{}":
        row["context"] = anonymous_context(row["context"])
    return None


def anonymous_context(text: str) -> str:
    """The stored context JSON of an anonymised row: CONTEXT_KEPT_WHEN_DENIED's keys only
    (of an object kept by its fields, only those fields, and only if it is an object)."""
    ctx = orjson.loads(text)
    kept: dict[str, object] = {}
    for key, fields in CONTEXT_KEPT_WHEN_DENIED.items():
        v = ctx.get(key)
        if v is None:
            continue
        if fields is None:
            kept[key] = v
        elif isinstance(v, dict):
            part = {f: v[f] for f in fields if f in v}
            if part:
                kept[key] = part
    return orjson.dumps(kept).decode() if kept else "{}"
