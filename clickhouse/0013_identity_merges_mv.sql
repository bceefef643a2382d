-- footpath.identity_merges_mv: alias messages sent with a server write key become merge
-- edges.  Engine/ordering: none of its own; it writes into identity_merges (0012), one
-- aggregated row per edge and insert block.
CREATE MATERIALIZED VIEW IF NOT EXISTS footpath.identity_merges_mv{on_cluster}
TO footpath.identity_merges
AS SELECT
    site_id,
    previous_id,
    user_id,
    min(timestamp) AS first_seen,
    toUInt64(count()) AS messages
FROM footpath.events
WHERE type = 'alias' AND source = 'server' AND previous_id != '' AND user_id != '' AND previous_id != user_id
GROUP BY site_id, previous_id, user_id;
