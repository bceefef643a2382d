-- footpath.quality_fill_hourly: per site, event, hour and top-level property, in how many
-- messages the property was present and not null.  Fill rate = present / events of
-- footpath.quality_events_hourly for the same event and hours.  Properties of track, page
-- and screen messages; traits of identify.  Fed from footpath.events (this view) and
-- footpath.quarantine (0037), so a required property that goes missing shows even when
-- block mode keeps those messages out of footpath.events.
--
-- Engine: SummingMergeTree (read with sum(present) GROUP BY).
-- ORDER BY (site_id, hour, type, event, property): per-site time ranges first, as in 0032.
CREATE TABLE IF NOT EXISTS footpath.quality_fill_hourly{on_cluster}
(
    site_id  LowCardinality(String),
    hour     DateTime('UTC'),
    type     LowCardinality(String),
    event    String,
    property String,
    present  UInt64
)
ENGINE = {replicated}SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, hour, type, event, property);

CREATE MATERIALIZED VIEW IF NOT EXISTS footpath.quality_fill_hourly_mv{on_cluster}
TO footpath.quality_fill_hourly
AS SELECT
    site_id,
    toStartOfHour(timestamp) AS hour,
    type,
    event,
    property,
    count() AS present
FROM footpath.events
ARRAY JOIN arrayFilter(k -> JSONType(if(type = 'identify', traits, properties), k) != 'Null',
                       JSONExtractKeys(if(type = 'identify', traits, properties))) AS property
WHERE NOT replayed AND type IN ('track', 'page', 'screen', 'identify')
GROUP BY site_id, hour, type, event, property;
