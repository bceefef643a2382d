-- footpath.quality_events_hourly: per site, event and hour, what arrived and how it fared
-- against the tracking plan.  Fed by two views: this one from footpath.events (rows stored)
-- and 0033 from footpath.quarantine (rows blocked), so every received message counts once;
-- rows moved in by replay (replayed = true) were already counted when quarantined.
--
-- Engine: SummingMergeTree: the views insert partial counts per insert block and merges add
-- them up; read with sum(...) GROUP BY (never rely on merges having happened).
-- ORDER BY (site_id, hour, type, event, source): the report and the alert evaluator read
-- one site over a time range and group by event; hour second prunes granules by range.
-- `hour` is the start of the event-time hour (timestamp, clock-skew corrected), as reports use.
CREATE TABLE IF NOT EXISTS footpath.quality_events_hourly{on_cluster}
(
    site_id    LowCardinality(String),
    hour       DateTime('UTC'),
    type       LowCardinality(String),
    event      String,
    source     LowCardinality(String),
    events     UInt64 COMMENT 'messages received (stored or quarantined)',
    checked    UInt64 COMMENT 'checked against a schema of the plan (planned, or unplanned track)',
    violating  UInt64 COMMENT 'with at least one violation',
    unplanned  UInt64 COMMENT 'track events not named by the plan',
    blocked    UInt64 COMMENT 'sent to footpath.quarantine'
)
ENGINE = {replicated}SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, hour, type, event, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS footpath.quality_events_hourly_mv{on_cluster}
TO footpath.quality_events_hourly
AS SELECT
    site_id,
    toStartOfHour(timestamp) AS hour,
    type,
    event,
    source,
    count() AS events,
    countIf(plan_status IN ('planned', 'unplanned')) AS checked,
    countIf(notEmpty(violations)) AS violating,
    countIf(plan_status = 'unplanned') AS unplanned,
    toUInt64(0) AS blocked
FROM footpath.events
WHERE NOT replayed
GROUP BY site_id, hour, type, event, source;
