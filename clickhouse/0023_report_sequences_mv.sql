-- footpath.report_sequences_mv: feeds report_sequences (0022), one partial row per session
-- and insert block.  Engine/ordering: none of its own (a TO view).  Same rows and the same
-- container key as report_events (0021).
CREATE MATERIALIZED VIEW IF NOT EXISTS footpath.report_sequences_mv{on_cluster}
TO footpath.report_sequences
AS SELECT
    site_id,
    ck_ AS ck,
    anonymous_id,
    max(user_id) AS user_id,
    min(t_) AS t_min,
    max(t_) AS t_max,
    groupArray(t_) AS t,
    groupArray(flags_) AS flags,
    groupArray(label_) AS label
FROM
(
    SELECT site_id, anonymous_id, user_id,
        reinterpretAsUInt128(sipHash128(session_id, anonymous_id,
            if(session_id = '' AND anonymous_id = '', user_id, ''))) AS ck_,
        multiIf(type = 'page', path, type = 'screen', name, event) AS label_,
        bitShiftLeft(toUInt64(toUnixTimestamp64Milli(timestamp)), 21) + least(seq, 1048575) AS t_,
        toUInt8(multiIf(type = 'page', 0, type = 'screen', 1, 2)
                + 4 * (type = 'track' AND event IN ('Page Engaged', 'Consent Updated'))
                + 8 * is_bot) AS flags_
    FROM footpath.events
    WHERE type IN ('page', 'screen', 'track') AND (session_id != '' OR anonymous_id != '' OR user_id != '')
)
GROUP BY site_id, ck_, anonymous_id;

-- Backfill: events stored before this view existed (migrations run before the writer's
-- first insert, so nothing is inserted concurrently).
INSERT INTO footpath.report_sequences
SELECT
    site_id,
    ck_ AS ck,
    anonymous_id,
    max(user_id) AS user_id,
    min(t_) AS t_min,
    max(t_) AS t_max,
    groupArray(t_) AS t,
    groupArray(flags_) AS flags,
    groupArray(label_) AS label
FROM
(
    SELECT site_id, anonymous_id, user_id,
        reinterpretAsUInt128(sipHash128(session_id, anonymous_id,
            if(session_id = '' AND anonymous_id = '', user_id, ''))) AS ck_,
        multiIf(type = 'page', path, type = 'screen', name, event) AS label_,
        bitShiftLeft(toUInt64(toUnixTimestamp64Milli(timestamp)), 21) + least(seq, 1048575) AS t_,
        toUInt8(multiIf(type = 'page', 0, type = 'screen', 1, 2)
                + 4 * (type = 'track' AND event IN ('Page Engaged', 'Consent Updated'))
                + 8 * is_bot) AS flags_
    FROM footpath.events
    WHERE type IN ('page', 'screen', 'track') AND (session_id != '' OR anonymous_id != '' OR user_id != '')
)
GROUP BY site_id, ck_, anonymous_id;
