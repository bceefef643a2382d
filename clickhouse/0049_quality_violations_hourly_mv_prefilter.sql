-- footpath.quality_violations_hourly_mv (0034), re-created to leave out a row with nothing to
-- count before its arrays are built.
--
-- 0034's view built two arrays for every stored row (its violations and its unplanned
-- properties, mapped into one array of tuples) and let ARRAY JOIN drop the rows where that
-- array came out empty: nearly every row, since most events break no rule of the plan (and
-- none does when no plan is set).  The WHERE below drops those rows first, with a test
-- of the two arrays' sizes (their offsets only), so the same rows reach ARRAY JOIN and the
-- counts are the same.  Measured with loadtests/view_cost.py (each view's own cost in place,
-- on rows with no violations; BENCHMARKS.md, Writer): this view 0.34-0.48 -> 0.20-0.24 CPU
-- us a row.
--
-- The quarantine twin (0035) is left as it is: a quarantined message always has a violation.
-- Same target table (TO view: no storage of its own).  Migrations run before the writer's
-- first insert, so no insert falls between the DROP and the CREATE.
DROP VIEW IF EXISTS footpath.quality_violations_hourly_mv{on_cluster};

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
WHERE NOT replayed AND (notEmpty(e.violations) OR notEmpty(e.unplanned_properties))
GROUP BY site_id, hour, type, event, rule, property;
