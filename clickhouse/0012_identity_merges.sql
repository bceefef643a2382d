-- footpath.identity_merges: user merges asserted by server-side `alias` messages
-- (previous_id is merged into user_id's person).  Written only by the view in 0013.
-- Browser (public key) sources cannot alias: the collector rejects those messages, and
-- the view also ignores any alias row whose source is not 'server'.
--
-- Engine: AggregatingMergeTree, one row per (site, previous_id, user_id) after merges,
-- keeping the earliest alias time (min) -- commutative, so arrival order does not matter.
-- Readers aggregate again (GROUP BY) and never need FINAL.
--
-- ORDER BY (site_id, previous_id, user_id): the merge edge is the row's identity; the
-- whole (small) edge set of a site is read at once to compute connected components.
CREATE TABLE IF NOT EXISTS footpath.identity_merges{on_cluster}
(
    site_id     LowCardinality(String),
    previous_id String,
    user_id     String,
    first_seen  SimpleAggregateFunction(min, DateTime64(3, 'UTC')) COMMENT 'event time of the first alias message',
    messages    SimpleAggregateFunction(sum, UInt64)
)
ENGINE = {replicated}AggregatingMergeTree
ORDER BY (site_id, previous_id, user_id);
