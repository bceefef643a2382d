-- footpath.quality_fill_hourly_mv and its quarantine twin (0044), re-created so that a row
-- whose JSON holds no null is read for its keys alone.
--
-- A key counts as present when its value is not null (0036).  0044 found that with one
-- pass, JSONExtractKeysAndValuesRaw, which also copies every value's text out only to compare
-- it with `null`.  A JSON null is the bare token `null`: it cannot be escaped or spelled
-- another way, so a text in which `null` does not occur at all has no null value, and
-- JSONExtractKeys (keys only, one pass, no value copies) gives the same list.  Any text with
-- `null` anywhere (a null value, or the word inside a key or string) takes 0044's path.
-- Same keys for every input checked (empty, invalid, non-object, nested, escaped and
-- repeated keys: tests/quality/test_fill_view.py).
--
-- Measured with loadtests/view_cost.py (each view's own cost in place, on rows whose
-- properties carry 4 keys, as a page view's or a product event's do; BENCHMARKS.md, Writer):
-- this view 2.04-2.24 -> 1.42-1.62 CPU us a row, of ~8 us a row for footpath.events and
-- every view on it.
--
-- Same target table, engine and ordering as 0036 (TO views: no storage of their own).
-- Migrations run before the writer's first insert, so no insert falls between the DROP and
-- the CREATE.
DROP VIEW IF EXISTS footpath.quality_fill_hourly_mv{on_cluster};

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
ARRAY JOIN if(position(if(type = 'identify', traits, properties) AS fill_json, 'null') = 0,
              JSONExtractKeys(fill_json),
              arrayMap(kv -> kv.1, arrayFilter(kv -> kv.2 != 'null', JSONExtractKeysAndValuesRaw(fill_json)))) AS property
WHERE NOT replayed AND type IN ('track', 'page', 'screen', 'identify')
GROUP BY site_id, hour, type, event, property;

DROP VIEW IF EXISTS footpath.quality_fill_hourly_quarantine_mv{on_cluster};

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
ARRAY JOIN if(position(properties, 'null') = 0,
              JSONExtractKeys(properties),
              arrayMap(kv -> kv.1, arrayFilter(kv -> kv.2 != 'null', JSONExtractKeysAndValuesRaw(properties)))) AS property
WHERE version = 0
GROUP BY site_id, hour, type, event, property;
