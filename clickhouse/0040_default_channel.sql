-- footpath_default_channel(utm_source, utm_medium, click_id_type, referrer_class): the
-- default channel grouping of attribution (collector/attribution/README.md), as a SQL
-- function so plain SQL and the attribution report label visits the same way:
--
--     SELECT footpath_default_channel(utm_source, utm_medium, click_id_type, referrer_class)
--     FROM footpath.events WHERE site_id = 'shop' AND type = 'page'
--
-- First match wins, comparisons on lower-cased utm values:
--   Direct          no utm_source (or '(direct)'), no utm_medium (or '(none)'/'(not set)'),
--                   no click id, referrer class direct / internal / empty
--   Display         medium display|banner|expandable|interstitial|cpm, or a dclid
--   Paid Social     fbclid|ttclid|li_fat_id|twclid, or a paid medium (^(.*cp.*|ppc|retargeting|paid.*|sem)$)
--                   from a social source or a social referrer
--   Paid Search     gclid|gbraid|wbraid|msclkid, or any other paid medium
--   Email           medium email|e-mail|e_mail|newsletter|mail, source email|e-mail|newsletter,
--                   or an email referrer (webmail hosts, classified at ingestion)
--   Affiliates      medium affiliate|affiliates|partner|partners
--   Organic Social  a social source or referrer, or medium social|social-network|social-media|sm
--   Organic Search  a search engine source or referrer, or medium organic
--   Referral        medium referral|link, or a referral referrer (any other site)
--   Other           everything else (e.g. utm_medium=print with no referrer)
--
-- A plain SQL user-defined function (global, not in a database, hence the footpath_
-- prefix): no storage, no engine.  Sites override it with `channel_rules` in their config;
-- those rules are applied by the report before this function.
CREATE FUNCTION IF NOT EXISTS footpath_default_channel{on_cluster} AS (src, med, cid, ref) ->
    multiIf(
        lower(src) IN ('', '(direct)') AND lower(med) IN ('', '(none)', '(not set)') AND cid = ''
            AND ref IN ('', 'direct', 'internal'), 'Direct',
        lower(med) IN ('display', 'banner', 'expandable', 'interstitial', 'cpm') OR cid = 'dclid', 'Display',
        cid IN ('fbclid', 'ttclid', 'li_fat_id', 'twclid')
            OR (match(lower(med), '^(.*cp.*|ppc|retargeting|paid.*|sem)$')
                AND (ref = 'social' OR lower(src) IN ('facebook', 'fb', 'instagram', 'ig', 'twitter', 'x', 't.co',
                     'linkedin', 'tiktok', 'pinterest', 'reddit', 'youtube', 'snapchat', 'threads', 'bsky',
                     'mastodon', 'quora', 'tumblr', 'whatsapp', 'telegram', 'discord', 'vk', 'meta'))), 'Paid Social',
        cid IN ('gclid', 'gbraid', 'wbraid', 'msclkid')
            OR match(lower(med), '^(.*cp.*|ppc|retargeting|paid.*|sem)$'), 'Paid Search',
        lower(med) IN ('email', 'e-mail', 'e_mail', 'newsletter', 'mail')
            OR lower(src) IN ('email', 'e-mail', 'e_mail', 'newsletter') OR ref = 'email', 'Email',
        lower(med) IN ('affiliate', 'affiliates', 'partner', 'partners'), 'Affiliates',
        ref = 'social' OR lower(med) IN ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media')
            OR lower(src) IN ('facebook', 'fb', 'instagram', 'ig', 'twitter', 'x', 't.co', 'linkedin', 'tiktok',
                              'pinterest', 'reddit', 'youtube', 'snapchat', 'threads', 'bsky', 'mastodon', 'quora',
                              'tumblr', 'whatsapp', 'telegram', 'discord', 'vk', 'meta'), 'Organic Social',
        ref = 'search' OR lower(med) = 'organic'
            OR lower(src) IN ('google', 'bing', 'yahoo', 'duckduckgo', 'baidu', 'yandex', 'ecosia', 'naver',
                              'seznam', 'qwant', 'startpage', 'brave', 'kagi'), 'Organic Search',
        lower(med) IN ('referral', 'link') OR ref = 'referral', 'Referral',
        'Other');
