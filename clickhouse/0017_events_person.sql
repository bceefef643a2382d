-- footpath.events_person: every column of footpath.events plus the person of each event,
-- resolved at query time from the identity links and merges, so reports change
-- retroactively when a link or alias arrives and footpath.events is never rewritten.
--
--   person_id  String  'u:' || canonical user id  for a known person
--                      'a:' || anonymous_id       for an anonymous id with no link
--                      ''                         for a row with no id (stored under
--                                                 denied consent): no person, skip it
--   person_key UInt64  the same person as a number, 0 for no person: cityHash64(site_id,
--                      canonical user id) or bitXor(cityHash64(site_id, ''),
--                      cityHash64(anonymous_id)).  Group by person_key in reports (no
--                      string building: a funnel costs ~1.4x the anonymous-id funnel,
--                      ~2.1x grouped by person_id); show person_id.
--
-- Rules (identity/README.md):
--   * a row with user_id          -> that user's person (canonical after alias merges);
--   * an anonymous-only row       -> the user whose link on that anonymous id is the
--     latest at or before the event; before the first login on it, the first user who
--     logged in on it (pre-login browsing is attributed retroactively); no link at all
--     -> the anonymous id is its own person.
--
-- A plain view (no engine, no storage): filters on footpath.events columns (site_id, the
-- date range) are pushed down to its ordering key; the dictionary (0016) is consulted
-- only for the rows that survive them and only for the columns a query names.  The
-- collector re-creates it at start-up when footpath.events gained or lost columns.
CREATE VIEW IF NOT EXISTS footpath.events_person{on_cluster}
AS WITH
    bitXor(cityHash64(site_id, user_id), cityHash64(anonymous_id) * (user_id = '')) AS identity_key_,
    arrayLastIndex(x -> x <= toUnixTimestamp64Milli(timestamp),
                   dictGet('footpath.identity_person_dict', 'froms', identity_key_)) AS identity_range_
SELECT
    *,
    if((dictGetOrDefault('footpath.identity_person_dict', 'person_id', identity_key_,
                         multiIf(user_id != '', concat('u:', user_id),
                                 anonymous_id != '', concat('a:', anonymous_id), '')) AS identity_found_) != char(0),
       identity_found_,
       dictGet('footpath.identity_person_dict', 'persons', identity_key_)[identity_range_]) AS person_id,
    if((dictGetOrDefault('footpath.identity_person_dict', 'person_key', identity_key_, identity_key_)
            AS identity_found_key_) != 1,
       identity_found_key_,
       cityHash64(site_id, substring(dictGet('footpath.identity_person_dict', 'persons', identity_key_)[identity_range_], 3))
    ) * (user_id != '' OR anonymous_id != '') AS person_key
FROM footpath.events;
