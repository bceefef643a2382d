-- Quarantined (blocked) messages into footpath.quality_events_hourly (see 0032), counted
-- once, on arrival (version 0); the rows replay writes to mark them replayed are skipped.
CREATE MATERIALIZED VIEW IF NOT EXISTS footpath.quality_events_hourly_quarantine_mv{on_cluster}
TO footpath.quality_events_hourly
AS SELECT
    site_id,
    toStartOfHour(timestamp) AS hour,
    type,
    event,
    source,
    count() AS events,
    count() AS checked,
    countIf(notEmpty(violations)) AS violating,
    countIf(plan_status = 'unplanned') AS unplanned,
    count() AS blocked
FROM footpath.quarantine
WHERE version = 0
GROUP BY site_id, hour, type, event, source;
