-- footpath.report_sequences: each session's steps as parallel arrays, for path (flow)
-- reports over sessions: a depth-N path needs every step of a session in order, and
-- reading one row per session replaces grouping millions of event rows per query.
-- Written only by the view in 0023 (plus its backfill).
--
-- Engine: AggregatingMergeTree with SimpleAggregateFunction columns.  The view writes one
-- partial row per session and insert block; merges fold the partial rows of a session
-- into one (arrays concatenated, min/max kept), and readers use FINAL, which folds what
-- the merges have not reached yet.  Array order is not time order after a fold: readers
-- sort by t.  The block hash window keeps a replayed insert block from landing twice.
--
-- ORDER BY (site_id, ck, anonymous_id): ck is the session container (as in report_events,
-- it already includes the anonymous id); anonymous_id is in the key so erasure can delete
-- by it.  No partitioning: a session's rows must be able to meet in a merge whatever their
-- dates; the minmax index on (t_min, t_max) skips sessions outside a date range.
--
-- t: unix milliseconds << 21 | min(seq, 2^20 - 1) -- time order, then the tag's sequence.
-- flags: bits 0-1 kind (0 page, 1 screen, 2 track), bit 2 tag-internal track event
-- ('Page Engaged', 'Consent Updated'), bit 3 bot.  label as in report_events.
CREATE TABLE IF NOT EXISTS footpath.report_sequences{on_cluster}
(
    site_id      LowCardinality(String),
    ck           UInt128,
    anonymous_id String,
    user_id      SimpleAggregateFunction(max, String) COMMENT 'a user id seen in the session, for erasure',
    t_min        SimpleAggregateFunction(min, UInt64),
    t_max        SimpleAggregateFunction(max, UInt64),
    t            SimpleAggregateFunction(groupArrayArray, Array(UInt64)),
    flags        SimpleAggregateFunction(groupArrayArray, Array(UInt8)),
    label        SimpleAggregateFunction(groupArrayArray, Array(String)),
    INDEX idx_time (t_min, t_max) TYPE minmax GRANULARITY 1
)
ENGINE = {replicated}AggregatingMergeTree
ORDER BY (site_id, ck, anonymous_id)
SETTINGS non_replicated_deduplication_window = 100000;
