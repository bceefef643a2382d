-- footpath.identity_canonical: for every user id that takes part in an alias merge, the
-- canonical user id of its person.  Derived from identity_merges by the collector (identity
-- package: connected components of the merge edges; the canonical id is the target of the
-- latest alias in the component), rewritten for a site whenever an alias arrives and at
-- start-up.  User ids absent here are their own canonical id.
--
-- Engine: ReplacingMergeTree(generation): a recomputation inserts the rows that changed
-- with a higher generation; the newest row per user id wins (readers use argMax or FINAL).
-- Erasure deletes rows physically (no tombstones holding erased ids).
--
-- ORDER BY (site_id, user_id): the key the dictionary in 0017 is looked up by.
CREATE TABLE IF NOT EXISTS footpath.identity_canonical{on_cluster}
(
    site_id      LowCardinality(String),
    user_id      String,
    canonical_id String,
    generation   UInt64 COMMENT 'monotonic per recomputation (unix ms)',
    updated_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {replicated}ReplacingMergeTree(generation)
ORDER BY (site_id, user_id);
