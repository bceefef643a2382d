-- footpath.report_events: the events that reports read (page, screen and track messages
-- of an identified visitor), narrowed to what fallout, segments and person-level paths
-- need and re-sorted by container.  Written only by the view in 0021 (plus the one-off
-- backfill there); footpath.events stays the source of truth and every report has a
-- raw-table equivalent that gives identical numbers (tests/reports).
--
-- Engine: MergeTree, one row per event.  Retried inserts carry the writer's deduplication
-- token and the writer sets deduplicate_blocks_in_dependent_materialized_views = 1, so the
-- block hash window below keeps a replayed block from landing twice here too.
--
-- ORDER BY (site_id, ck, timestamp, seq):
--   * site_id first: every report is for one site, a site's rows are one range,
--   * ck is the session container (sipHash128 of session id, anonymous id, and the user id
--     when neither is set): a container's events are contiguous and already in time order,
--     so GROUP BY ck touches each container once and the ordering key needs no re-sort,
--   * timestamp, seq: the report order (event time, then the tag's sequence number).
-- PARTITION BY month: a date range reads only its months (the minmax index on timestamp).
--
-- key: type, name-or-event and path joined by U+001F in one LowCardinality column, so a
-- step condition (key LIKE pattern) is computed once per distinct key, not per row.
-- label: what a path step shows: path for pages, name for screens, event for tracks.
-- user_id, anonymous_id, timestamp keep the columns identity's erasure and person
-- resolution (footpath.events_person) read.
CREATE TABLE IF NOT EXISTS footpath.report_events{on_cluster}
(
    site_id        LowCardinality(String),
    ck             UInt128 CODEC(ZSTD(1)) COMMENT 'session container key',
    timestamp      DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    seq            UInt32 CODEC(Delta, ZSTD(1)),
    is_bot         Bool,
    key            LowCardinality(String) COMMENT 'type, name-or-event, path joined by char(31)',
    label          LowCardinality(String),
    anonymous_id   String,
    user_id        String,
    properties     String CODEC(ZSTD(1)) COMMENT 'JSON text, as in footpath.events',
    country_code   LowCardinality(String),
    device_type    LowCardinality(String),
    browser        LowCardinality(String),
    os             LowCardinality(String),
    referrer_class LowCardinality(String),
    utm_source     LowCardinality(String),
    utm_medium     LowCardinality(String),
    utm_campaign   LowCardinality(String)
)
ENGINE = {replicated}MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (site_id, ck, timestamp, seq)
SETTINGS non_replicated_deduplication_window = 100000;
