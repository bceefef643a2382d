-- footpath.quality_violations_hourly: per site, event, hour, rule and property, how many
-- violations, with one example (message text and message_id).  Unplanned properties are
-- counted here too, as rule 'unplanned_property'.  Fed from footpath.events (this view) and
-- footpath.quarantine (0035).
--
-- Engine: AggregatingMergeTree with simple aggregate columns: `violations` adds up,
-- `example*` keep any one value.  Read with sum(violations), any(example) GROUP BY.
-- ORDER BY (site_id, hour, type, event, rule, property): per-site time ranges first, as in
-- 0032; the rest makes every (event, rule, property) one row per hour.
CREATE TABLE IF NOT EXISTS footpath.quality_violations_hourly{on_cluster}
(
    site_id            LowCardinality(String),
    hour               DateTime('UTC'),
    type               LowCardinality(String),
    event              String,
    rule               LowCardinality(String),
    property           String,
    violations         SimpleAggregateFunction(sum, UInt64),
    example            SimpleAggregateFunction(any, String),
    example_message_id SimpleAggregateFunction(any, String)
)
ENGINE = {replicated}AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, hour, type, event, rule, property);

CREATE MATERIALIZED VIEW IF NOT EXISTS footpath.quality_violations_hourly_mv{on_cluster}
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
FROM footpath.events AS e
ARRAY JOIN arrayConcat(
    arrayMap(x -> (x.1, x.2, x.3), e.violations),
    arrayMap(p -> ('unplanned_property', p, 'not named by the plan'), unplanned_properties)) AS v
WHERE NOT replayed
GROUP BY site_id, hour, type, event, rule, property;
