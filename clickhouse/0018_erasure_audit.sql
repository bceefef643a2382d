-- footpath.erasure_audit: one row per right-to-erasure request carried out.  It proves
-- that an erasure happened and what it removed, and holds no personal data: no user id,
-- no anonymous id, no hash of either (a hash of an id is still personal data) -- only the
-- site, the time and counts.
--
-- Engine: MergeTree, append-only, never updated.  ORDER BY (site_id, erased_at): audits
-- are read per site in time order.
CREATE TABLE IF NOT EXISTS footpath.erasure_audit{on_cluster}
(
    erasure_id     UUID COMMENT 'random, also returned to the caller',
    site_id        LowCardinality(String),
    erased_at      DateTime64(3, 'UTC'),
    person_kind    LowCardinality(String) COMMENT 'known (had a user id) | anonymous',
    user_ids       UInt32 COMMENT 'how many user ids the person had',
    anonymous_ids  UInt32 COMMENT 'how many anonymous ids were linked to it',
    events_deleted UInt64,
    links_deleted  UInt64,
    merges_deleted UInt64,
    other_deleted  Map(String, UInt64) COMMENT 'table -> rows removed from other tables keyed by the same ids'
)
ENGINE = {replicated}MergeTree
ORDER BY (site_id, erased_at);
