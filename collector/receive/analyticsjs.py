"""Segment's analytics.js (analytics-next) against this collector, unchanged.

Before it sends anything, analytics.js fetches `{cdnURL}/v1/projects/{writeKey}/settings`
and takes from it the host its Segment.io destination posts to; it then posts each call to
`{apiHost}/{first letter of the type}` (or `/b` when batching), with the key in the body.
So a site loads it with `cdnURL` set to the collector and the site's public key as
`writeKey`; the ingestion endpoints answer those paths (collector/types.py, INGEST_PATHS)
and the public key is checked with the site's origins, as for the tag.
"""

from __future__ import annotations

from typing import Any


def scheme_seen(request_scheme: str, origin: str | None, forwarded_proto: str | None) -> str:
    """The scheme the browser reached the collector with. Behind a TLS-terminating proxy the
    socket is plain http: a page on https can only have fetched these settings over https
    (http would be mixed content), and a trusted proxy's X-Forwarded-Proto says so too."""
    if origin and origin.startswith("https://"):
        return "https"
    if forwarded_proto in ("http", "https"):
        return forwarded_proto
    return "https" if request_scheme == "https" else "http"


def segment_settings(public_key: str, scheme: str, netloc: str) -> dict[str, Any]:
    """The settings document, pointing analytics.js back at the collector that served it."""
    return {
        "integrations": {"Segment.io": {"apiKey": public_key, "apiHost": f"{netloc}/v1", "protocol": scheme}},
        # analytics.js reports its own telemetry to api.segment.io unless told not to; a
        # self-hosted collector sends nothing to a third party.
        "metrics": {"sampleRate": 0},
        "plan": {}, "middlewareSettings": {}, "enabledMiddleware": {}, "remotePlugins": [],
        "legacyVideoPluginsEnabled": False,
    }
