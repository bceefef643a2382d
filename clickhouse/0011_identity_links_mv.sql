-- footpath.identity_links_mv: links from the writer's inserts into footpath.events.
--
-- A link is any stored message that carries both an anonymous id and a user id (identify,
-- and every message the tag sends after it).  A server-side `alias` (previousId -> userId,
-- write key only) also links previousId as an anonymous id: Segment libraries alias the
-- anonymous id to the new user id, and that must attribute the anonymous browsing too.
-- Rows stored under denied/pending consent carry no ids, so they never link.
--
-- Engine/ordering: none of its own; it writes into identity_links (0010), aggregated per
-- insert block (one row per pair and block) so the target stays small.  Event time, not
-- arrival time, is the link time: late and out-of-order arrival give the same links.
CREATE MATERIALIZED VIEW IF NOT EXISTS footpath.identity_links_mv{on_cluster}
TO footpath.identity_links
AS SELECT
    site_id,
    link_anon AS anonymous_id,
    user_id,
    min(timestamp) AS first_seen,
    max(timestamp) AS last_seen,
    toUInt64(count()) AS messages
FROM
(
    SELECT
        site_id,
        user_id,
        timestamp,
        arrayJoin(arrayDistinct(arrayFilter(x -> x != '',
            [anonymous_id, if(type = 'alias' AND source = 'server', previous_id, '')]))) AS link_anon
    FROM footpath.events
    WHERE user_id != ''
)
GROUP BY site_id, link_anon, user_id;
