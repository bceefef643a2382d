-- footpath.identity_link_ranges: time-ordered attribution of anonymous-only events, as
-- validity ranges per anonymous id (unix milliseconds, both ends inclusive).
--
-- The links of one anonymous id, ordered by (first_seen, user_id), split the time line:
--   link k covers [first_seen_k, first_seen_(k+1) - 1 ms]  -- the latest link at or before
--   the first link also covers everything before it         -- retroactive pre-login browsing
--   the last link runs to +infinity.
-- Ties (two users first seen on the same millisecond) are broken by user id, so the
-- answer is a function of the set of links, never of their arrival order; a link whose
-- range is empty (it tied with the next one) is dropped.
--
-- A plain view (no storage, no engine): it is the single definition used by the
-- dictionary in 0016, by erasure, and by anyone who prefers a join.  Ordering: rows come
-- out per (site_id, anonymous_id) in time order.
CREATE VIEW IF NOT EXISTS footpath.identity_link_ranges{on_cluster}
AS SELECT
    site_id,
    anonymous_id,
    user_id,
    first_seen,
    if(link_no = 1, toInt64(-9223372036854775807), first_ms) AS valid_from,
    if(next_ms = toInt64(9223372036854775807), next_ms, next_ms - 1) AS valid_to
FROM
(
    SELECT
        site_id,
        anonymous_id,
        user_id,
        first_seen,
        toUnixTimestamp64Milli(first_seen) AS first_ms,
        row_number() OVER (PARTITION BY site_id, anonymous_id ORDER BY first_seen, user_id) AS link_no,
        leadInFrame(first_ms, 1, toInt64(9223372036854775807)) OVER (PARTITION BY site_id, anonymous_id ORDER BY first_seen, user_id
                                                                   ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ms
    FROM
    (
        SELECT site_id, anonymous_id, user_id, min(first_seen) AS first_seen
        FROM footpath.identity_links
        GROUP BY site_id, anonymous_id, user_id
    )
)
WHERE valid_to >= valid_from;
