"""One settings object: read once (defaults < TOML ``[settings]`` < environment), validated
at start-up, passed down.  The REGISTRY is the single source for docs/settings.md and
``footpath settings``; a test fails when a setting is missing from the docs."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from collector.sites import Site, SiteError, parse_sites, site_fields_markdown


class ConfigError(ValueError):
    """A bad setting or site table; the message names the culprit."""


@dataclass(frozen=True)
class Spec:
    name: str
    env: str | None
    default: Any
    kind: type
    help: str


REGISTRY: tuple[Spec, ...] = (
    Spec("data_dir", "FOOTPATH_DATA_DIR", "./data", str,
         "Directory for the write-ahead buffer and the embedded ClickHouse data."),
    Spec("clickhouse_url", "FOOTPATH_CLICKHOUSE_URL", "", str,
         "ClickHouse URL: chdb:///abs/path (embedded) or http://user:pass@host:8123/db. "
         "Empty means chdb://<data_dir>/clickhouse."),
    Spec("clickhouse_cluster", "FOOTPATH_CLICKHOUSE_CLUSTER", "", str,
         "ClickHouse cluster the schema is rendered for (ON CLUSTER, Replicated* engines, Distributed "
         "tables), by `footpath migrate` and by the collector's own migrations at start. Empty: one "
         "node. Needs an http(s) clickhouse_url; docs/deployment.md says what a cluster runs today."),
    Spec("admin_token", "FOOTPATH_ADMIN_TOKEN", "", str,
         "Bearer token for /v1/sql, reports and person APIs. Empty: `serve` generates one and prints it."),
    Spec("config", "FOOTPATH_CONFIG", "", str, "Path of the TOML config file with [[site]] tables."),
    Spec("geoip_city_db", "FOOTPATH_GEOIP_CITY_DB", "", str,
         "MaxMind City (or Country) .mmdb file; empty disables geo fields."),
    Spec("geoip_asn_db", "FOOTPATH_GEOIP_ASN_DB", "", str, "MaxMind ASN .mmdb file; empty disables asn."),
    Spec("trusted_proxies", "FOOTPATH_TRUSTED_PROXIES", "", str,
         "Comma-separated CIDRs whose X-Forwarded-For is believed; empty trusts nobody."),
    Spec("flush_rows", "FOOTPATH_FLUSH_ROWS", 5000, int,
         "Rows an insert may carry at least; the writer inserts what is waiting every flush_ms (sooner "
         "when 1 MB waits) and drains a backlog in inserts of up to 64 MiB (~50,000 rows)."),
    Spec("flush_ms", "FOOTPATH_FLUSH_MS", 500, int, "Writer inserts at least this often (milliseconds)."),
    Spec("insert_format", "FOOTPATH_INSERT_FORMAT", "native", str,
         "How the writer sends buffered rows: native (columnar blocks built by the collector; a payload "
         "with a row it cannot convert goes as JSON) or json (ClickHouse parses every row: ~1.5x the "
         "writer's CPU)."),
    Spec("fsync", "FOOTPATH_FSYNC", "always", str,
         "Write-ahead buffer fsync policy: always (before every 2xx), interval (every fsync_ms), off."),
    Spec("fsync_ms", "FOOTPATH_FSYNC_MS", 50, int, "Group-commit interval when fsync = interval."),
    Spec("buffer_max_bytes", "FOOTPATH_BUFFER_MAX_BYTES", 1 << 30, int,
         "Disk cap of the write-ahead buffer; above it ingestion answers 503 with Retry-After."),
    Spec("segment_bytes", "FOOTPATH_SEGMENT_BYTES", 8 << 20, int, "Size at which a buffer segment is sealed."),
    Spec("max_message_bytes", "FOOTPATH_MAX_MESSAGE_BYTES", 32 * 1024, int,
         "Largest accepted message (Segment's limit: 32 KB)."),
    Spec("max_batch_bytes", "FOOTPATH_MAX_BATCH_BYTES", 500 * 1024, int,
         "Largest accepted request body (Segment's limit: 500 KB); 413 beyond."),
    Spec("max_depth", "FOOTPATH_MAX_DEPTH", 8, int, "Deepest nesting of objects/arrays inside a message."),
    Spec("max_keys", "FOOTPATH_MAX_KEYS", 300, int, "Most keys+items in properties, traits or context."),
    Spec("max_string", "FOOTPATH_MAX_STRING", 8192, int, "Longest string value inside a message."),
    Spec("max_past_days", "FOOTPATH_MAX_PAST_DAYS", 400, int,
         "Events older than this (after clock-skew correction) are rejected."),
    Spec("max_future_seconds", "FOOTPATH_MAX_FUTURE_SECONDS", 86400, int,
         "Events further in the future than this are rejected."),
    Spec("dedup_capacity", "FOOTPATH_DEDUP_CAPACITY", 2_000_000, int,
         "message_ids remembered to drop client re-sends before they reach storage (memory, "
         "taken at start: 16 bytes x the next power of two >= this, 32 MiB at the default)."),
    Spec("rejected_keep_per_minute", "FOOTPATH_REJECTED_KEEP_PER_MINUTE", 600, int,
         "Rejected messages kept in footpath.rejected_messages per site and collector process per minute "
         "(bursts up to as many); beyond it they are only counted (footpath_rejected_not_kept_total). 0: keep none."),
    Spec("rejected_keep_days", "FOOTPATH_REJECTED_KEEP_DAYS", 30, int,
         "Days a rejected message is kept (a site's shorter retention_days applies first); 0: no cap."),
    Spec("sql_max_seconds", "FOOTPATH_SQL_MAX_SECONDS", 20, int, "Time limit of one /v1/sql or report query."),
    Spec("sql_max_rows", "FOOTPATH_SQL_MAX_ROWS", 100_000, int, "Row limit of one /v1/sql result."),
    Spec("sql_max_memory", "FOOTPATH_SQL_MAX_MEMORY", 2 << 30, int, "Memory limit (bytes) of one query."),
    Spec("sql_max_result_bytes", "FOOTPATH_SQL_MAX_RESULT_BYTES", 64 << 20, int,
         "Size limit (bytes, uncompressed) of one /v1/sql result; its JSON answer takes several times this "
         "in the collector's memory."),
    Spec("read_timeout_s", "FOOTPATH_READ_TIMEOUT_S", 15, int,
         "A connection must deliver a request's headers and body within this many seconds of its first byte "
         "(and send a first byte this soon after connecting); else it is closed (408 where it can be said)."),
    Spec("max_header_bytes", "FOOTPATH_MAX_HEADER_BYTES", 64 * 1024, int,
         "Largest request line and headers together; 431 beyond."),
    Spec("ua_cache_size", "FOOTPATH_UA_CACHE_SIZE", 50_000, int, "User-agent strings whose parse is cached."),
    Spec("log_format", "FOOTPATH_LOG_FORMAT", "json", str, "Log lines as json or text."),
    Spec("test_fixtures", "FOOTPATH_TEST_FIXTURES", "", str,
         "Directory served at /__fixtures__/ (browser tests only; leave empty in production)."),
    Spec("plan_reload_ms", "FOOTPATH_PLAN_RELOAD_MS", 1000, int,
         "How often a site's tracking-plan file is checked for changes; a changed plan applies without restart."),
    Spec("quality_interval_s", "FOOTPATH_QUALITY_INTERVAL_S", 300, int,
         "Data-quality alerts are evaluated this often (seconds); 0 turns them off in this collector "
         "(in a cluster, leave them on in one)."),
    Spec("alert_resolve_minutes", "FOOTPATH_ALERT_RESOLVE_MINUTES", 15, int,
         "An alert incident is resolved (and a resolved message sent) once its condition stayed clear this long."),
    Spec("webhook_retry_minutes", "FOOTPATH_WEBHOOK_RETRY_MINUTES", 60, int,
         "A failing alert webhook delivery is retried with exponential backoff for this long, then given up."),
)

_SPECS = {s.name: s for s in REGISTRY}


@dataclass(frozen=True)
class Settings:
    data_dir: str = "./data"
    clickhouse_url: str = ""
    clickhouse_cluster: str = ""
    admin_token: str = ""
    config: str = ""
    geoip_city_db: str = ""
    geoip_asn_db: str = ""
    trusted_proxies: str = ""
    flush_rows: int = 5000
    flush_ms: int = 500
    insert_format: str = "native"
    fsync: str = "always"
    fsync_ms: int = 50
    buffer_max_bytes: int = 1 << 30
    segment_bytes: int = 8 << 20
    max_message_bytes: int = 32 * 1024
    max_batch_bytes: int = 500 * 1024
    max_depth: int = 8
    max_keys: int = 300
    max_string: int = 8192
    max_past_days: int = 400
    max_future_seconds: int = 86400
    dedup_capacity: int = 2_000_000
    rejected_keep_per_minute: int = 600
    rejected_keep_days: int = 30
    sql_max_seconds: int = 20
    sql_max_rows: int = 100_000
    sql_max_memory: int = 2 << 30
    sql_max_result_bytes: int = 64 << 20
    read_timeout_s: int = 15
    max_header_bytes: int = 64 * 1024
    ua_cache_size: int = 50_000
    log_format: str = "json"
    test_fixtures: str = ""
    plan_reload_ms: int = 1000
    quality_interval_s: int = 300
    alert_resolve_minutes: int = 15
    webhook_retry_minutes: int = 60
    sites: tuple[Site, ...] = field(default_factory=tuple)

    @property
    def effective_clickhouse_url(self) -> str:
        if self.clickhouse_url:
            return self.clickhouse_url
        return "chdb://" + str((Path(self.data_dir) / "clickhouse").resolve())

    @property
    def buffer_dir(self) -> Path:
        return Path(self.data_dir) / "buffer"

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p.strip(), strict=False)
                     for p in self.trusted_proxies.split(",") if p.strip())

    def with_sites(self, sites: tuple[Site, ...]) -> Settings:
        return replace(self, sites=sites)


def _coerce(spec: Spec, value: Any, origin: str) -> Any:
    if spec.kind is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ConfigError(f"{origin}: setting {spec.name!r} must be an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{origin}: setting {spec.name!r} must be an integer, got {value!r}") from None
    if not isinstance(value, str):
        raise ConfigError(f"{origin}: setting {spec.name!r} must be a string, got {value!r}")
    return value


# Integer settings by the least value that makes sense (0 where the help gives 0 a meaning:
# off, unlimited, none kept, at once); every int setting is in one of the two.
POSITIVE = ("flush_rows", "flush_ms", "fsync_ms", "max_message_bytes", "max_batch_bytes", "max_depth", "max_keys",
            "max_string", "buffer_max_bytes", "segment_bytes", "sql_max_seconds", "sql_max_rows",
            "sql_max_memory", "max_past_days", "sql_max_result_bytes", "read_timeout_s", "max_header_bytes")
NOT_NEGATIVE = ("rejected_keep_per_minute", "rejected_keep_days", "max_future_seconds", "dedup_capacity",
                "ua_cache_size", "plan_reload_ms", "quality_interval_s", "alert_resolve_minutes",
                "webhook_retry_minutes")


def _validate(s: Settings, origins: dict[str, str] | None = None) -> None:
    """Raises ConfigError naming the setting and where its value came from (origins: the
    config file, the environment variable or the command line; absent: the default)."""
    def bad(name: str, what: str) -> ConfigError:
        where = (origins or {}).get(name)
        return ConfigError(f"{where + ': ' if where else ''}setting {name!r} {what}")

    if s.fsync not in ("always", "interval", "off"):
        raise bad("fsync", f"must be always, interval or off, got {s.fsync!r}")
    if s.insert_format not in ("native", "json"):
        raise bad("insert_format", f"must be native or json, got {s.insert_format!r}")
    if s.log_format not in ("json", "text"):
        raise bad("log_format", f"must be json or text, got {s.log_format!r}")
    for name in POSITIVE:
        if getattr(s, name) <= 0:
            raise bad(name, f"must be positive, got {getattr(s, name)}")
    for name in NOT_NEGATIVE:
        if getattr(s, name) < 0:
            raise bad(name, f"must be 0 or more, got {getattr(s, name)}")
    url = s.effective_clickhouse_url
    if not url.startswith(("chdb://", "http://", "https://")):
        raise bad("clickhouse_url", f"must start with chdb://, http:// or https://, got {url!r}")
    if s.clickhouse_cluster:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s.clickhouse_cluster):
            raise bad("clickhouse_cluster", f"must be a cluster name (letters, digits, _), got {s.clickhouse_cluster!r}")
        if url.startswith("chdb://"):
            raise bad("clickhouse_cluster", "needs a ClickHouse server (clickhouse_url = http://...): the embedded "
                                            "engine is one node")
    try:
        s.proxy_networks  # noqa: B018 - parse once to fail at start, not per request
    except ValueError as e:
        raise bad("trusted_proxies", f"is not valid: {e}") from None
    for name in ("geoip_city_db", "geoip_asn_db"):
        p = getattr(s, name)
        if p and not Path(p).is_file():
            raise bad(name, f"names a file that is not there: {p}")


def load_settings(config_path: str | None = None, env: dict[str, str] | None = None,
                  overrides: dict[str, Any] | None = None, sites: bool = True) -> Settings:
    """Defaults, then the config file's [settings] table, then FOOTPATH_* variables, then
    explicit overrides (CLI flags).  Raises ConfigError naming the bad field.  sites=False
    leaves the [[site]] tables (and their plan files) unread: the admin commands need only
    the settings, and must work while a site's plan file is broken."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}  # where each value came from, for the errors
    path = config_path or env.get("FOOTPATH_CONFIG", "")
    doc: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            doc = tomllib.loads(p.read_text("utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not valid UTF-8 (byte {e.start})") from None
        unknown_top = set(doc) - {"settings", "site"}
        if unknown_top:
            raise ConfigError(f"{path}: unknown top-level key(s): {', '.join(sorted(unknown_top))}")
        for k, v in (doc.get("settings") or {}).items():
            if k not in _SPECS or k == "config":
                raise ConfigError(f"{path}: [settings] has unknown setting {k!r}")
            values[k] = _coerce(_SPECS[k], v, path)
            origins[k] = path
        values["config"] = path
    for spec in REGISTRY:
        if spec.env and spec.env in env and spec.name != "config":
            values[spec.name] = _coerce(spec, env[spec.env], spec.env)
            origins[spec.name] = spec.env
    for k, v in (overrides or {}).items():
        if v is not None:
            values[k] = _coerce(_SPECS[k], v, "command line")
            origins[k] = "command line"
    settings = Settings(**values)
    _validate(settings, origins)
    if not sites:
        return settings
    try:
        sites = parse_sites(doc.get("site", []), source=path or "<no config>",
                            base_dir=Path(path).parent if path else Path.cwd())
    except SiteError as e:
        raise ConfigError(str(e)) from None
    return settings.with_sites(sites)


def settings_markdown() -> str:
    """The generated settings reference (docs/settings.md)."""
    lines = ["# Settings", "",
             "Generated from `collector/settings.py` by `footpath settings`. Precedence: "
             "defaults < `[settings]` table of the config file < environment < command-line flags.", "",
             "| setting | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for s in REGISTRY:
        default = f"`{s.default}`" if s.default != "" else "(empty)"
        lines.append(f"| `{s.name}` | `{s.env}` | {default} | {s.help} |")
    lines += ["", "## Site tables (`[[site]]`)", "",
              "One table per site in the config file; a bad value stops start-up with a message naming the "
              "site and field (README.md, Configuration).", "", site_fields_markdown().rstrip("\n")]
    return "\n".join(lines) + "\n"


def registered_field_names() -> set[str]:
    return {f.name for f in fields(Settings)} - {"sites"}
