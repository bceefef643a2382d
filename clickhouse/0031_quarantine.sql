-- footpath.quarantine: messages a tracking plan in block mode kept out of footpath.events.
-- Nothing is lost: `row` is the complete footpath.events row (after enrichment and consent
-- enforcement, so it holds nothing consent would have stripped), and `footpath quarantine
-- replay` moves the rows that pass the plan as it is now into footpath.events.
--
-- Engine: ReplacingMergeTree(version).  A message arrives with version 0 and status
-- 'quarantined'; replay inserts the same key with status 'replayed' and a higher version,
-- so the latest state wins (read with FINAL or argMax(..., version)).  A client re-send
-- of a quarantined message collapses with its first copy.
--
-- ORDER BY (site_id, message_id): every read is per site (listing, replay), and the key
-- must be unique per message for the Replacing engine.  Partition by the month the
-- message arrived: replay rows copy received_at, so both versions share a partition.
CREATE TABLE IF NOT EXISTS footpath.quarantine{on_cluster}
(
    site_id              LowCardinality(String),
    message_id           String,
    type                 LowCardinality(String),
    event                String,
    source               LowCardinality(String),
    timestamp            DateTime64(3, 'UTC'),
    received_at          DateTime64(3, 'UTC'),
    plan_version         UInt32 COMMENT 'plan version that blocked it',
    plan_status          LowCardinality(String),
    violations           Array(Tuple(rule String, property String, message String)),
    unplanned_properties Array(String),
    reason               String COMMENT 'the first violations, for people',
    properties           String COMMENT 'JSON text of what was checked (traits for identify)',
    row                  String CODEC(ZSTD(3)) COMMENT 'the footpath.events row as JSON',
    status               LowCardinality(String) DEFAULT 'quarantined' COMMENT 'quarantined | replayed',
    replayed_at          Nullable(DateTime64(3, 'UTC')),
    replay_plan_version  UInt32 DEFAULT 0,
    version              UInt64 DEFAULT 0
)
ENGINE = {replicated}ReplacingMergeTree(version)
PARTITION BY toYYYYMM(received_at)
ORDER BY (site_id, message_id);
