"""Sites from the ``[[site]]`` tables of the config file.  Parsed once at start-up; every
error names the site and the field so a bad config never surfaces as a traceback."""

from __future__ import annotations

import re
import secrets
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from collector.experiments.config import parse_experiments
from collector.experiments.registry import public_config as experiment_config
from collector.plans.config import FieldProblem, check_site_fields

CONSENT_STATES = ("granted", "denied", "pending")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{6,200}$")


class SiteError(ValueError):
    pass


@dataclass(frozen=True)
class Site:
    id: str
    public_key: str
    write_key: str = ""
    origins: tuple[str, ...] = ()
    # The public key also from apps: requests with neither Origin nor Referer (no browser sends
    # a POST without Origin), e.g. Segment's mobile libraries; treated as browser messages.
    app_access: bool = False
    consent_default: str = "pending"
    # Server sources (write key) that send no context.consent: the site vouches for them.
    server_consent_default: str = "granted"
    # Under denied (or pending) consent: "anonymize" keeps an identifier-free row, "drop" keeps nothing.
    denied_mode: str = "anonymize"
    # The category of Segment's context.consent.categoryPreferences that means analytics consent.
    consent_category: str = "Analytics"
    gpc: bool = True  # honour Global Privacy Control (Sec-GPC / navigator.globalPrivacyControl) as denied
    aggregate_when_denied: bool = False  # the tag may send cookieless page views under denied
    ip_anonymize: bool = True  # store IPv4 /24 and IPv6 /48 only
    cookie_days: int = 395
    cookie_domain: str = ""
    hash_routes: bool = False
    autocapture: bool = False
    query_denylist: tuple[str, ...] = ("email", "token", "password")
    retention_days: int = 0  # 0 keeps events forever; else ClickHouse TTL deletes older rows
    rate_limit_events: int = 0  # events per second for the whole site (0: unlimited); burst 2 s
    rate_limit_client: int = 0  # requests per second per client IP (0: unlimited); burst 2 s
    shared_device_threshold: int = 5  # an anonymous id linked to more users is a shared device
    # Attribution channel rules (collector/attribution/channels.py), before the default grouping.
    channel_rules: tuple[Any, ...] = ()
    # RFM and lead-score settings (collector/scores/config.py); None: the defaults.
    scores: Any = None
    tracking_plan: str = ""  # plan file (JSON/YAML), absolute once loaded; see collector/plans/
    plan_mode: str = "observe"  # observe | strip | block
    alert_webhook: str = ""  # data-quality alerts are POSTed here as JSON
    alert_violation_percent: int = 5  # violation-rate alert threshold
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def hosts(self) -> frozenset[str]:
        """Host names of the site's origins: referrers from them are internal."""
        cached = self.extra.get("_hosts")
        if cached is None:
            cached = self.extra["_hosts"] = frozenset(urlsplit(o).hostname or "" for o in self.origins)
        return cached

    def allows_origin(self, origin: str | None) -> bool:
        return origin is not None and normalize_origin(origin) in self.origins

    def public_config(self) -> dict[str, Any]:
        """What the tag fetches at /v1/sites/{public_key}/config: nothing secret."""
        return {
            "site": self.id, "consent_default": self.consent_default, "gpc": self.gpc,
            "cookie_days": self.cookie_days, "cookie_domain": self.cookie_domain or None,
            "hash_routes": self.hash_routes, "autocapture": self.autocapture,
            "query_denylist": list(self.query_denylist),
            "aggregate_when_denied": self.aggregate_when_denied,
            **experiment_config(self),
        }


_FIELDS = {f.name: f for f in fields(Site) if f.name != "extra"}

# Every [[site]] key, for the generated reference (docs/settings.md, `footpath settings
# --markdown`); tests/collector/test_settings.py fails when a field has no entry here.
SITE_FIELD_HELP: dict[str, str] = {
    "id": "Required. 1-63 of a-z 0-9 _ -: the `site_id` of the site's rows.",
    "public_key": "Required. The key in the script tag (and analytics.js's writeKey); browser calls only, "
                  "from the site's origins.",
    "write_key": "Secret key of server-side sources (HTTP Basic user, or `writeKey` in the body); empty: none.",
    "origins": "Origins whose pages may use the public key, e.g. `[\"https://shop.example\"]`.",
    "app_access": "Accept the public key from apps too: requests with neither Origin nor Referer (Segment's "
                  "analytics-kotlin, analytics-swift, React Native). Treated as browser messages (consent_default, "
                  "no alias, no context.ip); a request that names an Origin must still come from a listed one.",
    "consent_default": "granted, denied or pending: a browser message that states no consent.",
    "server_consent_default": "The same for server messages (write key): the site vouches for them.",
    "denied_mode": "anonymize (a row with no identifier: no ids, IP, full user agent, traits, city; of context only "
                   "the library, app, OS name and device type, maker and model) or drop: messages under denied or "
                   "pending consent.",
    "consent_category": "The category of Segment's `context.consent.categoryPreferences` that means analytics "
                        "consent (case-insensitive; e.g. OneTrust's `C0002`).",
    "gpc": "Honour Global Privacy Control (Sec-GPC, navigator.globalPrivacyControl) as denied, unless the visitor explicitly grants (the tag's consent('granted'): a message stating analytics granted).",
    "aggregate_when_denied": "Under denied, the tag may send cookieless page views with no ids.",
    "ip_anonymize": "Store IPv4 /24 and IPv6 /48 only.",
    "cookie_days": "Lifetime of the tag's anonymous id, from creation (sdk_js/README.md).",
    "cookie_domain": "The tag's cookie domain; empty: the widest one the browser accepts.",
    "hash_routes": "The tag counts `#/route` changes as page views.",
    "autocapture": "The tag loads its autocapture module (outbound links, downloads, form submissions).",
    "query_denylist": "Query parameters the tag removes from every URL and referrer.",
    "retention_days": "0 keeps rows forever; else every per-event or per-person table expires older rows "
                      "(RELIABILITY.md, Retention).",
    "rate_limit_events": "Events per second for the whole site, burst 2 s; 0: unlimited (answers 429).",
    "rate_limit_client": "Requests per second per client IP, burst 2 s; 0: unlimited (answers 429).",
    "shared_device_threshold": "An anonymous id linked to more users than this is a shared device "
                               "(identity/README.md).",
    "channel_rules": "Attribution channel rules before the default grouping (collector/attribution/README.md).",
    "scores": "RFM and lead-score settings (collector/scores/README.md).",
    "tracking_plan": "Tracking-plan file, JSON or YAML, relative to the config file (collector/plans/README.md).",
    "plan_mode": "observe, strip or block: what a message that breaks the plan gets.",
    "alert_webhook": "Data-quality alerts are POSTed here as JSON; empty: none.",
    "alert_violation_percent": "Violation-rate alert threshold, percent.",
    "experiment": "`[[site.experiment]]` tables: A/B tests and bandits (collector/experiments/README.md).",
}


def site_fields_markdown() -> str:
    """The [[site]] reference table, defaults read from the Site dataclass."""
    lines = ["| field | default | meaning |", "| --- | --- | --- |"]
    for name, help_text in SITE_FIELD_HELP.items():
        f = _FIELDS.get(name)
        default = "(none)" if f is None or f.default is MISSING else f.default
        if isinstance(default, bool):
            default = "true" if default else "false"
        elif isinstance(default, tuple):
            default = ", ".join(map(str, default)) if default else "(none)"
        elif default in ("", None):
            default = "(empty)" if default == "" else "(none)"
        text = f"`{default}`" if default not in ("(none)", "(empty)") else default
        lines.append(f"| `{name}` | {text} | {help_text} |")
    return "\n".join(lines) + "\n"


def _field_parsers() -> dict[str, Any]:
    """Structured fields validated by the capability that owns them (imported lazily)."""
    from collector.attribution.channels import parse_channel_rules
    from collector.scores.config import parse_scores

    return {"channel_rules": parse_channel_rules, "scores": parse_scores}

# Keys that later capabilities read from the same table (tracking plans, experiments, rate limits).
_PASSTHROUGH = {"experiment"}


def normalize_origin(origin: str) -> str:
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(origin)
    host = parts.hostname.lower()
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{host}{port}"


def _fail(source: str, idx: int, sid: str | None, key: str, why: str) -> SiteError:
    who = f"site {sid!r}" if sid else f"site #{idx + 1}"
    return SiteError(f"{source}: {who}: field {key!r}: {why}")


def _check_type(value: Any, want: type, tag: str) -> Any:
    if want is bool:
        if not isinstance(value, bool):
            raise TypeError(f"must be true or false, got {value!r}")
    elif want is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TypeError(f"must be a non-negative integer, got {value!r}")
    elif want is str:
        if not isinstance(value, str):
            raise TypeError(f"must be a string, got {value!r}")
    elif tag.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"must be a list of strings, got {value!r}")
        return tuple(value)
    return value


def parse_site(raw: dict[str, Any], idx: int, source: str, base_dir: Path) -> Site:
    if not isinstance(raw, dict):
        raise SiteError(f"{source}: site #{idx + 1} must be a table")
    sid = raw.get("id") if isinstance(raw.get("id"), str) else None
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    parsers = _field_parsers()
    for key, value in raw.items():
        if key in _PASSTHROUGH:
            extra[key] = value
            if key == "experiment":
                try:
                    extra[key] = parse_experiments(value)
                except ValueError as e:
                    raise _fail(source, idx, sid, key, str(e)) from None
            continue
        if key in parsers:
            try:
                kwargs[key] = parsers[key](value)
            except ValueError as e:
                raise _fail(source, idx, sid, key, str(e)) from None
            continue
        f = _FIELDS.get(key)
        if f is None:
            raise _fail(source, idx, sid, key, "unknown field (typo?)")
        want = {"bool": bool, "int": int, "str": str}.get(str(f.type), object)
        try:
            kwargs[key] = _check_type(value, want, str(f.type))
        except TypeError as e:
            raise _fail(source, idx, sid, key, str(e)) from None
    for key in ("id", "public_key"):
        if key not in kwargs:
            raise _fail(source, idx, sid, key, "is required")
    if not _ID_RE.match(kwargs["id"]):
        raise _fail(source, idx, sid, "id", "use 1-63 of a-z 0-9 _ - (starting with a letter or digit)")
    for key in ("public_key", "write_key"):
        if key in kwargs and kwargs[key] and not _KEY_RE.match(kwargs[key]):
            raise _fail(source, idx, sid, key, "keys are 6-200 of A-Z a-z 0-9 _ . : -")
    for key in ("consent_default", "server_consent_default"):
        if key in kwargs and kwargs[key] not in CONSENT_STATES:
            raise _fail(source, idx, sid, key, f"must be one of {', '.join(CONSENT_STATES)}")
    if not 1 <= len(kwargs.get("consent_category", "Analytics")) <= 100:
        raise _fail(source, idx, sid, "consent_category", "must be 1-100 characters (a consent category's name)")
    if kwargs.get("denied_mode", "anonymize") not in ("anonymize", "drop"):
        raise _fail(source, idx, sid, "denied_mode", "must be anonymize or drop")
    origins = []
    for o in kwargs.get("origins", ()):
        try:
            origins.append(normalize_origin(o))
        except ValueError:
            raise _fail(source, idx, sid, "origins", f"{o!r} is not an origin like https://shop.example") from None
    kwargs["origins"] = tuple(origins)
    try:
        check_site_fields(kwargs, base_dir)
    except FieldProblem as e:
        raise _fail(source, idx, sid, e.field, e.why) from None
    return Site(**kwargs, extra=extra)


def parse_sites(raw_sites: Any, source: str, base_dir: Path) -> tuple[Site, ...]:
    if not isinstance(raw_sites, list):
        raise SiteError(f"{source}: 'site' must be an array of tables ([[site]])")
    sites = tuple(parse_site(r, i, source, base_dir) for i, r in enumerate(raw_sites))
    seen: dict[str, str] = {}
    for s in sites:
        for kind, value in (("id", s.id), ("public_key", s.public_key), ("write_key", s.write_key)):
            if not value:
                continue
            if value in seen:
                raise SiteError(f"{source}: site {s.id!r}: field {kind!r}: {value!r} is already used by {seen[value]}")
            seen[value] = (f"field {kind} of site {s.id!r}" if kind != "id" else "another site")
    return sites


DEMO_KEY_PREFIX = "sk_demo_"  # the demo site's write keys start with it


def demo_site(origins: tuple[str, ...], write_key: str = "") -> Site:
    """The site `serve` creates when no config file is given."""
    return Site(id="demo", public_key="pk_demo", write_key=write_key or DEMO_KEY_PREFIX + secrets.token_urlsafe(16),
                origins=tuple(normalize_origin(o) for o in origins), consent_default="pending")
