"""Prometheus metrics (prometheus-client).  One registry per process; /metrics renders it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

RECEIVED = Counter("footpath_messages_received", "Messages received, before validation",
                   ["source"], registry=REGISTRY)
ACCEPTED = Counter("footpath_messages_accepted", "Messages accepted into the buffer", ["site"], registry=REGISTRY)
REJECTED = Counter("footpath_messages_rejected", "Messages rejected, by field", ["field"], registry=REGISTRY)
DROPPED = Counter("footpath_messages_dropped", "Valid messages not stored, by reason", ["reason"],
                  registry=REGISTRY)
REQUESTS_REFUSED = Counter("footpath_requests_refused", "Whole requests refused, by HTTP status",
                           ["status"], registry=REGISTRY)
INSERTED = Counter("footpath_rows_inserted", "Rows inserted into footpath.events", registry=REGISTRY)
INSERT_ERRORS = Counter("footpath_insert_errors", "Failed insert or connect attempts", registry=REGISTRY)
INSERT_LATENCY = Histogram("footpath_insert_seconds", "Latency of one bulk insert", registry=REGISTRY,
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
STEP_SECONDS = Counter("footpath_step_seconds", "Time spent in each pipeline step", ["step"], registry=REGISTRY)
BUFFER_BACKLOG = Gauge("footpath_buffer_backlog_bytes", "Bytes in the write-ahead buffer not yet inserted",
                       registry=REGISTRY)
QUEUE_DEPTH = BUFFER_BACKLOG  # the buffer is the queue: one name in docs, one gauge
STORAGE_UP = Gauge("footpath_storage_up", "1 when the last storage operation succeeded", registry=REGISTRY)
TAG_LOSS = Counter("footpath_tag_reported", "Loss counters reported by the browser tag", ["site", "counter"],
                   registry=REGISTRY)
SHARED_DEVICES = Gauge("footpath_shared_devices", "Anonymous ids linked to more users than the threshold",
                       ["site"], registry=REGISTRY)


def render() -> bytes:
    return generate_latest(REGISTRY)
