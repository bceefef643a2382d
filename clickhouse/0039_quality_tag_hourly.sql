-- footpath.quality_tag_hourly: the loss figures the browser tag reports with each batch
-- (`stats`: events it dropped, events it re-sent, events still queued), per site and hour
-- of arrival.  Each collector adds up what its own requests reported and writes the
-- increments through its durable buffer about once a minute, so collectors behind a load
-- balancer add up correctly.  Estimated completeness = received / (received + dropped).
--
-- Engine: SummingMergeTree (read with sum(...) GROUP BY).  ORDER BY (site_id, hour).
CREATE TABLE IF NOT EXISTS footpath.quality_tag_hourly{on_cluster}
(
    site_id  LowCardinality(String),
    hour     DateTime('UTC'),
    dropped  UInt64,
    retried  UInt64,
    queued   UInt64 COMMENT 'sum of the queue lengths reported'
)
ENGINE = {replicated}SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, hour);
