-- footpath.report_steps: the one table fallout, segments and paths read from the views
-- (replacing report_events, 0020, and report_sequences, 0022, dropped in 0026): one narrow
-- row per page, screen or track message that has a container.  Written only by the view in
-- 0025 (plus its one-off backfill); footpath.events stays the source of truth and every
-- report keeps a raw-table equivalent that gives identical numbers (tests/reports).
--
-- Why one table: every materialized view costs a fixed amount per insert block on top of
-- its rows (measured in chDB: a view into a Null table alone adds ~35 % at 5,000-row
-- inserts), so the two views of 0021/0023 cost +162 %; one view halves that.  Paths no
-- longer need pre-assembled session arrays (an AggregatingMergeTree folded with FINAL):
-- they group these rows by container like fallout does.
--
-- Engine: MergeTree, one row per event.  Retried inserts carry the writer's deduplication
-- token and the writer sets deduplicate_blocks_in_dependent_materialized_views = 1, so the
-- block hash window below keeps a replayed block from landing twice here too.
--
-- ORDER BY (site_id, ck, t):
--   * site_id first: every report is for one site, a site's rows are one range;
--   * ck, the session container: a container's rows are contiguous and in time order;
--   * t, the report order (below).
-- PARTITION BY month of t: a date range reads only its months (the partition minmax on t);
-- per-site retention and erasure mutations rewrite only the months they touch.
--
-- Columns, narrow and pre-computed so a report reads numbers, not strings:
--   ck     UInt64 cityHash64(session_id, anonymous_id, user_id when neither is set); a
--          64-bit key: two sessions collide with probability ~n^2/2^65 (4e-8 at 1.25M
--          sessions), accepted as for identity's person_key (0016).
--   t      unix milliseconds << 21 | min(seq, 2^20 - 1): time order, then the tag's
--          sequence number, in one integer (windowed comparisons stay exact: sources.py).
--   flags  bits 0-1 kind (0 page, 1 screen, 2 track), bit 2 tag-internal track event
--          ('Page Engaged', 'Consent Updated'), bit 3 bot.
--   key    type, name-or-event and path joined by U+001F, LowCardinality: a step
--          condition (key LIKE pattern) is computed once per distinct key, not per row.
--   label  what a path step shows: path for pages, name for screens, event for tracks.
--   anonymous_id, user_id, timestamp (an ALIAS of t): what identity's person resolution
--          (footpath.events_person's own SELECT, re-targeted here) and identity's erasure
--          (ALTER TABLE ... DELETE by ids and time ranges) read.
--   properties and the stored breakdown dimensions: read only by the reports that name
--          them (property steps, breakdowns); measured at ~10 % of this view's insert cost.
CREATE TABLE IF NOT EXISTS footpath.report_steps{on_cluster}
(
    site_id        LowCardinality(String),
    ck             UInt64 COMMENT 'session container key',
    t              UInt64 CODEC(Delta, LZ4) COMMENT 'unix ms << 21 | min(seq, 2^20 - 1)',
    flags          UInt8 COMMENT 'bits 0-1 kind, 2 tag-internal, 3 bot',
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
    utm_campaign   LowCardinality(String),
    timestamp      DateTime64(3, 'UTC') ALIAS fromUnixTimestamp64Milli(toInt64(bitShiftRight(t, 21)), 'UTC')
)
ENGINE = {replicated}MergeTree
PARTITION BY toYYYYMM(toDateTime(intDiv(bitShiftRight(t, 21), 1000), 'UTC'))
ORDER BY (site_id, ck, t)
SETTINGS non_replicated_deduplication_window = 100000;
