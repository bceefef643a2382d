"""Prometheus metrics (prometheus-client).  One registry per process; /metrics renders it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

RECEIVED = Counter("footpath_messages_received", "Messages received, before validation",
                   ["source"], registry=REGISTRY)
ACCEPTED = Counter("footpath_messages_accepted", "Messages accepted into the buffer", ["site"], registry=REGISTRY)
REJECTED = Counter("footpath_messages_rejected", "Messages rejected, by field", ["field"], registry=REGISTRY)
REJECTED_NOT_KEPT = Counter("footpath_rejected_not_kept", "Rejected messages over the site's rejected_keep_per_minute: "
                            "counted, not kept in footpath.rejected_messages", ["site"], registry=REGISTRY)
DROPPED = Counter("footpath_messages_dropped", "Valid messages not stored, by reason", ["reason"],
                  registry=REGISTRY)
REQUESTS_REFUSED = Counter("footpath_requests_refused", "Whole requests refused, by HTTP status",
                           ["status"], registry=REGISTRY)
INSERTED = Counter("footpath_rows_inserted", "Rows inserted into footpath.events", registry=REGISTRY)
NATIVE_FALLBACKS = Counter("footpath_insert_native_fallbacks",
                           "Inserts of compact buffer rows sent as JSON because a row was outside the Native "
                           "writer's grammar (collector/write/native.py)", registry=REGISTRY)
INSERT_ERRORS = Counter("footpath_insert_errors", "Failed insert or connect attempts", registry=REGISTRY)
INSERT_LATENCY = Histogram("footpath_insert_seconds", "Latency of one bulk insert", registry=REGISTRY,
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
STEP_SECONDS = Counter("footpath_step_seconds", "Time spent in each pipeline step (estimated from every 8th request)",
                       ["step"], registry=REGISTRY)
BUFFER_BACKLOG = Gauge("footpath_buffer_backlog_bytes", "Bytes in the write-ahead buffer not yet inserted",
                       registry=REGISTRY)
STORAGE_UP = Gauge("footpath_storage_up", "1 when the last storage operation succeeded", registry=REGISTRY)
TAG_LOSS = Counter("footpath_tag_reported", "Loss counters reported by the browser tag", ["site", "counter"],
                   registry=REGISTRY)
SHARED_DEVICES = Gauge("footpath_shared_devices", "Anonymous ids linked to more users than the threshold",
                       ["site"], registry=REGISTRY)

# Tracking plans and data quality (collector/plans, collector/quality).
PLAN_VIOLATIONS = Counter("footpath_plan_violations", "Tracking-plan violations found, by rule", ["site", "rule"],
                          registry=REGISTRY)
PLAN_BLOCKED = Counter("footpath_plan_blocked", "Messages sent to footpath.quarantine (plan_mode = block)",
                       ["site"], registry=REGISTRY)
PLAN_STRIPPED = Counter("footpath_plan_stripped_properties", "Unplanned properties removed (plan_mode = strip)",
                        ["site"], registry=REGISTRY)
PLAN_LOADS = Counter("footpath_plan_loads", "Tracking-plan file loads, by result (ok | error)", ["result"],
                     registry=REGISTRY)
QUARANTINE_REPLAYED = Counter("footpath_quarantine_replayed", "Quarantined messages moved into footpath.events",
                              ["site"], registry=REGISTRY)
QUALITY_ALERTS = Counter("footpath_quality_alerts", "Data-quality alert notifications, by kind and state",
                         ["site", "kind", "state"], registry=REGISTRY)
QUALITY_OPEN = Gauge("footpath_quality_open_incidents", "Open data-quality incidents", ["site", "kind"],
                     registry=REGISTRY)
QUALITY_WEBHOOK = Counter("footpath_quality_webhook_attempts",
                          "Alert webhook delivery attempts, by result (delivered | retry | failed)", ["result"],
                          registry=REGISTRY)
QUALITY_EVALUATIONS = Counter("footpath_quality_evaluations", "Alert evaluation runs, by result (ok | error)",
                              ["result"], registry=REGISTRY)


# Hot-path children resolved once: .labels() costs a lock and a dict build per call.
_children: dict[tuple[object, str], object] = {}


def _child(metric, value: str):  # noqa: ANN001, ANN202 - prometheus types
    key = (metric, value)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(value)
    return child


# Ingestion's counts are added up in a plain dict and moved into the counters when
# /metrics is rendered: a Counter.inc takes a lock, and the five or so per request (more
# with step times) cost more than some of the steps they count.  Only the event loop
# thread counts (ingestion) and renders.
_pending: dict[tuple[Counter, str], float] = {}


def count(metric: Counter, label: str, n: float) -> None:
    """metric.labels(label).inc(n), deferred to the next render()."""
    key = (metric, label)
    _pending[key] = _pending.get(key, 0) + n


def add_step_seconds(secs: dict[str, float], weight: float = 1.0) -> None:
    """Step times of a timed request; weight = 1 / the fraction of requests timed."""
    for name, v in secs.items():
        count(STEP_SECONDS, name, v * weight)


def flush_pending() -> None:
    for key in list(_pending):
        metric, label = key
        _child(metric, label).inc(_pending.pop(key))


def render() -> bytes:
    flush_pending()
    return generate_latest(REGISTRY)
