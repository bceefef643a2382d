-- Violations of quarantined (blocked) messages into footpath.quality_violations_hourly
-- (see 0034), counted once, on arrival (version 0).
CREATE MATERIALIZED VIEW IF NOT EXISTS footpath.quality_violations_hourly_quarantine_mv{on_cluster}
TO footpath.quality_violations_hourly
AS SELECT
    site_id,
    toStartOfHour(timestamp) AS hour,
    type,
    event,
    v.1 AS rule,
    v.2 AS property,
    count() AS violations,
    any(v.3) AS example,
    any(message_id) AS example_message_id
FROM footpath.quarantine AS q
ARRAY JOIN arrayConcat(
    arrayMap(x -> (x.1, x.2, x.3), q.violations),
    arrayMap(p -> ('unplanned_property', p, 'not named by the plan'), unplanned_properties)) AS v
WHERE version = 0
GROUP BY site_id, hour, type, event, rule, property;
