-- footpath.person_rfm: recency, frequency and monetary value per person, their quintile
-- scores and a named segment (collector/scores/README.md).  Query it per site:
--
--     SELECT * FROM footpath.person_rfm WHERE site_id = 'shop' ORDER BY monetary DESC
--
-- Purchases: track events named score_settings.rfm_event (default 'Order Completed'),
-- amount in the property rfm_value_property (default 'revenue'; numbers or numeric
-- strings), persons as footpath.events_person resolves them (cross-device), bots excluded.
--   recency_days  full days since the person's last purchase (as of now())
--   frequency     purchases;  monetary: sum of amounts
--   r_score, f_score, m_score  1-5 within the site: 1 + floor(5 * (rank - 1) / (n - 1)),
--       capped at 5, where rank counts persons strictly worse plus one (ties share the
--       lower score) and n is the site's buyers; higher is better (recent, often, much).
--   segment (first match):  Champions R5 F4-5 | Loyal R3-4 F4-5 | Potential Loyalists R4-5 F2-3
--       | New Customers R5 F1 | Promising R4 F1 | Need Attention R3 F3 | About to Sleep R3 F1-2
--       | Can't Lose Them R1-2 F5 | At Risk R1-2 F3-4 | Hibernating R1-2 F1-2
--
-- A plain view (no storage): a filter on site_id reaches footpath.events' sorting key
-- through the GROUP BY and the windows (both partitioned by site).
CREATE VIEW IF NOT EXISTS footpath.person_rfm{on_cluster}
AS SELECT
    site_id, person_key, person_id, first_purchase, last_purchase, recency_days, frequency, monetary,
    r_score, f_score, m_score,
    concat(toString(r_score), toString(f_score), toString(m_score)) AS rfm,
    multiIf(r_score = 5 AND f_score >= 4, 'Champions',
            r_score >= 3 AND f_score >= 4, 'Loyal',
            r_score >= 4 AND f_score >= 2, 'Potential Loyalists',
            r_score = 5, 'New Customers',
            r_score = 4, 'Promising',
            r_score = 3 AND f_score = 3, 'Need Attention',
            r_score = 3, 'About to Sleep',
            f_score = 5, 'Can''t Lose Them',
            f_score >= 3, 'At Risk',
            'Hibernating') AS segment
FROM
(
    SELECT
        *,
        toUInt8(least(5, 1 + floor(5 * (rank() OVER (PARTITION BY site_id ORDER BY recency_days DESC) - 1)
                                   / greatest(count() OVER (PARTITION BY site_id) - 1, 1)))) AS r_score,
        toUInt8(least(5, 1 + floor(5 * (rank() OVER (PARTITION BY site_id ORDER BY frequency ASC) - 1)
                                   / greatest(count() OVER (PARTITION BY site_id) - 1, 1)))) AS f_score,
        toUInt8(least(5, 1 + floor(5 * (rank() OVER (PARTITION BY site_id ORDER BY monetary ASC) - 1)
                                   / greatest(count() OVER (PARTITION BY site_id) - 1, 1)))) AS m_score
    FROM
    (
        SELECT
            site_id,
            person_key,
            any(person_id) AS person_id,
            min(timestamp) AS first_purchase,
            max(timestamp) AS last_purchase,
            toUInt32(intDiv(greatest(toUnixTimestamp(now()) - toUnixTimestamp(max(timestamp)), 0), 86400)) AS recency_days,
            count() AS frequency,
            sum(amount) AS monetary
        FROM
        (
            SELECT
                e.site_id AS site_id, e.person_key AS person_key, e.person_id AS person_id, e.timestamp AS timestamp,
                if(s.ver = 0, 'revenue', s.rfm_value_property) AS vp,
                if(vp = '', 0., if(JSONType(e.properties, vp) = 'String', toFloat64OrZero(JSONExtractString(e.properties, vp)),
                                   JSONExtractFloat(e.properties, vp))) AS amount
            FROM footpath.events_person AS e
            LEFT JOIN
            (
                SELECT site_id, argMax(rfm_event, version) AS rfm_event,
                       argMax(rfm_value_property, version) AS rfm_value_property, max(version) AS ver
                FROM footpath.score_settings
                GROUP BY site_id
            ) AS s ON e.site_id = s.site_id
            WHERE e.type = 'track' AND e.person_key != 0 AND NOT e.is_bot
              AND e.event = if(s.ver = 0, 'Order Completed', s.rfm_event)
        )
        GROUP BY site_id, person_key
    )
);
