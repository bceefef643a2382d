-- footpath.score_settings: each site's person-score settings from the config file
-- (`scores` in a [[site]] table, collector/scores/README.md), written by the collector at
-- start-up (collector/scores/sync.py) so that the views in 0042 and 0043 -- and anyone
-- using plain SQL -- score persons the way the site is configured.  A site with no row
-- is scored with the defaults (the views spell them out).
--
-- Lead rules are parallel arrays, tried in order, first match wins; the collector appends
-- the defaults (page 2 points, track 5) after the site's own rules.  Patterns are SQL LIKE
-- patterns ('' matches anything), converted from the config's globs.
--
-- Engine: ReplacingMergeTree(version): every start-up inserts the current settings with a
-- newer version; readers take argMax(..., version) per site (no FINAL needed).
-- ORDER BY site_id: one row per site after merges, looked up per site.
CREATE TABLE IF NOT EXISTS footpath.score_settings{on_cluster}
(
    site_id            LowCardinality(String),
    rfm_event          String COMMENT 'track event that counts as a purchase',
    rfm_value_property String COMMENT 'its property holding the amount, '''' for none',
    lead_rule_types    Array(String) COMMENT 'message type a rule matches, '''' for any',
    lead_rule_events   Array(String) COMMENT 'LIKE pattern on the event name, '''' for any',
    lead_rule_paths    Array(String) COMMENT 'LIKE pattern on the page path, '''' for any',
    lead_rule_weights  Array(Float64) COMMENT 'points per matching event',
    lead_decay         Array(Float64) COMMENT 'multipliers of points aged 0-29 days, 30-59, 60+',
    version            UInt64 COMMENT 'unix microseconds of the write'
)
ENGINE = {replicated}ReplacingMergeTree(version)
ORDER BY site_id;
