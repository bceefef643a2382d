-- footpath.identity_links: every (site, anonymous id, user id) pair seen together on one
-- message, with the first time it was seen.  Written only by the materialized view in
-- 0011 (fed by the writer's inserts into footpath.events); nothing else inserts here.
--
-- Engine: AggregatingMergeTree with SimpleAggregateFunction columns.  The view inserts one
-- partial row per pair and insert block; background merges fold them into one row per pair
-- keeping min(first_seen), max(last_seen) and sum(messages).  Merges are eventual, so
-- readers always aggregate again (GROUP BY ... min/max/sum) and never need FINAL.  Because
-- min() is commutative, the stored answer does not depend on the order links arrive in.
--
-- ORDER BY (site_id, anonymous_id, user_id): the pair is the row's identity (what merges
-- collapse on); person resolution reads all links of one anonymous id together (its links
-- in time order decide attribution), and every query is per site.  Lookups by user id
-- (person lookup, erasure) use the bloom filter index on user_id.
CREATE TABLE IF NOT EXISTS footpath.identity_links{on_cluster}
(
    site_id      LowCardinality(String),
    anonymous_id String,
    user_id      String,
    first_seen   SimpleAggregateFunction(min, DateTime64(3, 'UTC')) COMMENT 'event time of the first message carrying both ids',
    last_seen    SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    messages     SimpleAggregateFunction(sum, UInt64) COMMENT 'messages that carried both ids',
    INDEX idx_user user_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = {replicated}AggregatingMergeTree
ORDER BY (site_id, anonymous_id, user_id);
