-- footpath.rejected_messages: the messages the collector refused, kept for whoever sent them.
--
-- A rejected message is named in the response ({"rejected": [{"index", "field", "reason"}]}),
-- but server libraries (analytics-python, analytics-node) and the tag do not read that part of
-- the answer: a sender that starts writing a bad field lost those messages silently, seen
-- only as a counter in /metrics.  Here each one is kept (Snowplow's "failed events"): the
-- field, the reason, who sent it (library, source) and the message itself, so the problem
-- can be found and the message replayed by its sender once fixed.  Written by the pipeline
-- through the write-ahead buffer like every other row (collector/validate/rejected.py), at
-- most `rejected_keep_per_minute` per site and collector process; the rest are counted.
--
-- Consent: the message text and its ids are kept only when the message, read as loosely
-- as its damage allows, would be stored under granted consent (its stated consent, the
-- site's GPC rule and default); otherwise `redacted` = 1 and only the diagnosis is kept
-- (field, reason, type, event, library, message id).  context.ip is never kept.
--
-- Engine: MergeTree, one row per rejected message; nothing to collapse (a client re-send of a
-- rejected message is a second rejection).  The writer's deduplication token plus the block
-- hash window keep a retried insert from landing twice.
-- ORDER BY (site_id, received_at): every read is one site's recent rejections.
-- PARTITION BY month: expiry (the TTL that collector/write/retention.py sets: the site's
-- retention_days, capped by rejected_keep_days) drops or rewrites whole months.
CREATE TABLE IF NOT EXISTS footpath.rejected_messages{on_cluster}
(
    site_id       LowCardinality(String),
    received_at   DateTime64(3, 'UTC'),
    source        LowCardinality(String) COMMENT 'browser | server',
    library       LowCardinality(String) COMMENT 'context.library name/version as sent',
    field         LowCardinality(String) COMMENT 'the field at fault, as in the response',
    reason        String,
    type          LowCardinality(String) COMMENT 'the type as sent (cut to 40 characters)',
    event         String,
    message_id    String,
    user_id       String,
    anonymous_id  String,
    message       String CODEC(ZSTD(3)) COMMENT 'the message as JSON text, without context.ip; cut at 16 KiB',
    message_bytes UInt32 COMMENT 'its size before any cut',
    redacted      UInt8 COMMENT '1: consent withheld the message text and ids'
)
ENGINE = {replicated}MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (site_id, received_at)
SETTINGS non_replicated_deduplication_window = 10000;
