-- footpath.report_steps_mv: feeds report_steps (0024) from every insert into footpath.events.
-- Engine/ordering: none of its own (a TO view); a row per page, screen or track message
-- that has a container (a session id, an anonymous id or a user id: rows stored under
-- denied consent carry none and belong to no container).  The expressions are the ones
-- collector/reports/sources.py applies to the raw table (CK_EXPR, T_EXPR, FLAGS_EXPR,
-- KEY_EXPR, LABEL_EXPR, ROWS_WHERE); tests/reports check both give identical reports.
CREATE MATERIALIZED VIEW IF NOT EXISTS footpath.report_steps_mv{on_cluster}
TO footpath.report_steps
AS SELECT
    site_id,
    cityHash64(session_id, anonymous_id, if(session_id = '' AND anonymous_id = '', user_id, '')) AS ck,
    bitShiftLeft(toUInt64(toUnixTimestamp64Milli(timestamp)), 21) + least(seq, 1048575) AS t,
    toUInt8(multiIf(type = 'page', 0, type = 'screen', 1, 2)
            + 4 * (type = 'track' AND event IN ('Page Engaged', 'Consent Updated'))
            + 8 * is_bot) AS flags,
    concat(type, char(31), if(type = 'track', event, name), char(31), path) AS key,
    multiIf(type = 'page', path, type = 'screen', name, event) AS label,
    anonymous_id,
    user_id,
    properties,
    country_code, device_type, browser, os, referrer_class, utm_source, utm_medium, utm_campaign
FROM footpath.events
WHERE type IN ('page', 'screen', 'track') AND (session_id != '' OR anonymous_id != '' OR user_id != '');

-- Backfill: events stored before this view existed.  Migrations run before the writer's
-- first insert, so nothing is inserted concurrently.
INSERT INTO footpath.report_steps
SELECT
    site_id,
    cityHash64(session_id, anonymous_id, if(session_id = '' AND anonymous_id = '', user_id, '')) AS ck,
    bitShiftLeft(toUInt64(toUnixTimestamp64Milli(timestamp)), 21) + least(seq, 1048575) AS t,
    toUInt8(multiIf(type = 'page', 0, type = 'screen', 1, 2)
            + 4 * (type = 'track' AND event IN ('Page Engaged', 'Consent Updated'))
            + 8 * is_bot) AS flags,
    concat(type, char(31), if(type = 'track', event, name), char(31), path) AS key,
    multiIf(type = 'page', path, type = 'screen', name, event) AS label,
    anonymous_id,
    user_id,
    properties,
    country_code, device_type, browser, os, referrer_class, utm_source, utm_medium, utm_campaign
FROM footpath.events
WHERE type IN ('page', 'screen', 'track') AND (session_id != '' OR anonymous_id != '' OR user_id != '');
