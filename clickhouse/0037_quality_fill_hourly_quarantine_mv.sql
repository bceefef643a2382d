-- Property presence of quarantined (blocked) messages into footpath.quality_fill_hourly
-- (see 0036), counted once, on arrival (version 0).  `properties` holds the traits for
-- identify messages.
CREATE MATERIALIZED VIEW IF NOT EXISTS footpath.quality_fill_hourly_quarantine_mv{on_cluster}
TO footpath.quality_fill_hourly
AS SELECT
    site_id,
    toStartOfHour(timestamp) AS hour,
    type,
    event,
    property,
    count() AS present
FROM footpath.quarantine
ARRAY JOIN arrayFilter(k -> JSONType(properties, k) != 'Null', JSONExtractKeys(properties)) AS property
WHERE version = 0
GROUP BY site_id, hour, type, event, property;
