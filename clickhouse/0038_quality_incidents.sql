-- footpath.quality_incidents: data-quality alert incidents (collector/quality/), one row
-- per state change.  The collector's evaluator opens an incident when a condition starts
-- (one webhook message) and resolves it when it has cleared (one "resolved" message);
-- open incidents are reloaded at start-up so a restart does not page twice.
--
-- Engine: ReplacingMergeTree(version): the latest state of an incident wins (read FINAL).
-- ORDER BY (site_id, incident_id): read per site; the id is unique per incident.
CREATE TABLE IF NOT EXISTS footpath.quality_incidents{on_cluster}
(
    site_id      LowCardinality(String),
    incident_id  String,
    family       LowCardinality(String) COMMENT 'violations | volume | site',
    kind         LowCardinality(String) COMMENT 'violation_rate | volume_drop | volume_rise | stopped | site_dip',
    key          String COMMENT 'type:event, or * for the whole site',
    state        LowCardinality(String) COMMENT 'open | resolved',
    opened_at    DateTime64(3, 'UTC'),
    resolved_at  Nullable(DateTime64(3, 'UTC')),
    summary      String,
    details      String COMMENT 'JSON: observed, expected, bounds',
    version      UInt64
)
ENGINE = {replicated}ReplacingMergeTree(version)
ORDER BY (site_id, incident_id);
