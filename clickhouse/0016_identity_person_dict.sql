-- footpath.identity_person_dict: the person of every event that is not simply its own
-- ids, in memory, for footpath.events_person (0017).  Two kinds of entries:
--   * a user id that took part in an alias merge -> its canonical user's person;
--   * a linked anonymous id -> the person of its anonymous-only events: the canonical
--     user of its only link (the common case, no time lookup), or, when its links
--     (identity_link_ranges, 0015) belong to several persons, person_id = char(0) and
--     person_key = 1 plus the ranges: froms (ascending range starts, unix ms) and persons;
--     an event at ms belongs to persons[arrayLastIndex(x -> x <= ms, froms)].
-- Ids absent from it are their own person.
--
-- Key: the row's identity key, computed in events_person as
--     bitXor(cityHash64(site_id, user_id), cityHash64(anonymous_id) * (user_id = ''))
-- i.e. cityHash64(site_id, user_id) for rows with a user id and
-- bitXor(cityHash64(site_id, ''), cityHash64(anonymous_id)) for anonymous-only rows.
-- Attributes person_key use the same spelling for the person's own ids.
--
-- Layout HASHED_ARRAY on a UInt64 key.  Measured at 1M events (loadtests/identity_bench.py,
-- identity/README.md), CPU per row: COMPLEX_KEY_RANGE_HASHED on (site_id, anonymous_id)
-- ~350 ns, COMPLEX_KEY_HASHED ~220 ns, HASHED on a UInt64 ~75 ns; a person funnel costs
-- 3.0x the anonymous-id funnel with the range dictionary, 3.4x with an ASOF JOIN on the
-- ranges (its hash table is rebuilt by every query), 1.4x with this one.  HASHED_ARRAY
-- holds the four attributes in half the memory of HASHED at the same speed.  A 64-bit key
-- collision (~n^2/2^65: 3e-6 at ten million linked ids) would misattribute one id's events;
-- accepted and documented.
--
-- Freshness: the collector reloads it (SYSTEM RELOAD DICTIONARY) right after an insert
-- that brought a new link, an earlier first_seen or an alias, and after an erasure.
-- LIFETIME with the invalidate query is the safety net for rows written by anything else.
CREATE DICTIONARY IF NOT EXISTS footpath.identity_person_dict{on_cluster}
(
    key        UInt64,
    person_id  String,
    person_key UInt64,
    froms      Array(Int64),
    persons    Array(String)
)
PRIMARY KEY key
SOURCE(CLICKHOUSE(
    QUERY '
        SELECT cityHash64(site_id, user_id) AS key,
               concat(''u:'', canonical_id) AS person_id,
               cityHash64(site_id, canonical_id) AS person_key,
               CAST([], ''Array(Int64)'') AS froms,
               CAST([], ''Array(String)'') AS persons
        FROM (SELECT site_id, user_id, argMax(canonical_id, generation) AS canonical_id
              FROM footpath.identity_canonical GROUP BY site_id, user_id)
        WHERE canonical_id != user_id
        UNION ALL
        SELECT bitXor(cityHash64(site, ''''), cityHash64(anon)) AS key,
               if(several, char(0), concat(''u:'', ranked_users[1])) AS person_id,
               if(several, toUInt64(1), cityHash64(site, ranked_users[1])) AS person_key,
               if(several, ranked_froms, []) AS froms,
               if(several, arrayMap(u -> concat(''u:'', u), ranked_users), []) AS persons
        FROM (
            SELECT r.site_id AS site, r.anonymous_id AS anon,
                   arraySort(groupArray((r.valid_from, if(c.canonical_id = '''', r.user_id, c.canonical_id)))) AS ranked,
                   arrayMap(x -> x.1, ranked) AS ranked_froms,
                   arrayMap(x -> x.2, ranked) AS ranked_users,
                   length(arrayDistinct(ranked_users)) > 1 AS several
            FROM footpath.identity_link_ranges AS r
            LEFT JOIN (SELECT site_id, user_id, argMax(canonical_id, generation) AS canonical_id
                       FROM footpath.identity_canonical GROUP BY site_id, user_id) AS c
                ON r.site_id = c.site_id AND r.user_id = c.user_id
            GROUP BY r.site_id, r.anonymous_id)'
    INVALIDATE_QUERY 'SELECT (SELECT (count(), max(last_seen)) FROM footpath.identity_links), (SELECT (count(), max(generation)) FROM footpath.identity_canonical)'
))
LAYOUT(HASHED_ARRAY())
LIFETIME(MIN 60 MAX 120);
