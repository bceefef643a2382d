-- footpath.person_lead_score: a weighted, time-decayed engagement score per person and
-- its tier (collector/scores/README.md).  Query it per site:
--
--     SELECT person_id, score, tier FROM footpath.person_lead_score
--     WHERE site_id = 'shop' AND tier = 'hot' ORDER BY score DESC
--
-- Points: every event of the person (as footpath.events_person resolves persons, bots
-- excluded) earns the weight of the first lead rule it matches (score_settings: the
-- site's rules, then the defaults page view 2, track event 5; anything else 0).
--   points_0_29, points_30_59, points_60_plus  points of events aged 0-29 full days,
--                                              30-59, and 60 or more (as of now())
--   points  decay[1] * points_0_29 + decay[2] * points_30_59 + decay[3] * points_60_plus,
--           decay = lead_decay, default [0.6, 0.3, 0.1]
--   score   points rounded, clamped to 0-100 (UInt8)
--   tier    hot >= 80, warm 60-79, cool 40-59, cold < 40
--
-- A plain view (no storage): a filter on site_id reaches footpath.events' sorting key.
CREATE VIEW IF NOT EXISTS footpath.person_lead_score{on_cluster}
AS SELECT
    site_id, person_key, person_id, last_seen, events, points_0_29, points_30_59, points_60_plus,
    decay[1] * points_0_29 + decay[2] * points_30_59 + decay[3] * points_60_plus AS points,
    toUInt8(least(100, greatest(0, round(points)))) AS score,
    multiIf(score >= 80, 'hot', score >= 60, 'warm', score >= 40, 'cool', 'cold') AS tier
FROM
(
    SELECT
        site_id,
        person_key,
        any(person_id) AS person_id,
        max(timestamp) AS last_seen,
        count() AS events,
        sumIf(weight, age < 30) AS points_0_29,
        sumIf(weight, age >= 30 AND age < 60) AS points_30_59,
        sumIf(weight, age >= 60) AS points_60_plus,
        any(lead_decay) AS decay
    FROM
    (
        SELECT
            e.site_id AS site_id, e.person_key AS person_key, e.person_id AS person_id, e.timestamp AS timestamp,
            intDiv(toUnixTimestamp(now()) - toUnixTimestamp(e.timestamp), 86400) AS age,
            if(s.ver = 0, ['page', 'track'], s.types) AS rule_types,
            if(s.ver = 0, ['', ''], s.events) AS rule_events,
            if(s.ver = 0, ['', ''], s.paths) AS rule_paths,
            if(s.ver = 0, [2., 5.], s.weights) AS rule_weights,
            if(s.ver = 0, [0.6, 0.3, 0.1], s.decay) AS lead_decay,
            arrayFirstIndex((t, ev, p) -> (t = '' OR t = e.type) AND (ev = '' OR e.event LIKE ev)
                                          AND (p = '' OR e.path LIKE p),
                            rule_types, rule_events, rule_paths) AS rule,
            if(rule = 0, 0., rule_weights[rule]) AS weight
        FROM footpath.events_person AS e
        LEFT JOIN
        (
            SELECT site_id, argMax(lead_rule_types, version) AS types, argMax(lead_rule_events, version) AS events,
                   argMax(lead_rule_paths, version) AS paths, argMax(lead_rule_weights, version) AS weights,
                   argMax(lead_decay, version) AS decay, max(version) AS ver
            FROM footpath.score_settings
            GROUP BY site_id
        ) AS s ON e.site_id = s.site_id
        WHERE e.person_key != 0 AND NOT e.is_bot
    )
    GROUP BY site_id, person_key
);
