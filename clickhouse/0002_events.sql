-- footpath.events: one row per accepted message, the source of truth for every report.
--
-- Engine: ReplacingMergeTree keyed on message_id within the sorting key.  Duplicates are
-- stopped earlier (the collector's message_id cache, insert_deduplication_token on every
-- insert from the write-ahead buffer); the Replacing engine is the last safety net and
-- collapses any survivor at merge time, so reports never need FINAL.
--
-- Partition by month: retention drops whole partitions cheaply, and a site's date range
-- touches few partitions.
--
-- ORDER BY (site_id, toDate(timestamp), anonymous_id, user_id, message_id):
--   * every query is per site, almost every query has a date range -> the first two keys
--     prune granules;
--   * within a day, a visitor's rows are adjacent, so per-visitor scans (funnels,
--     paths, identity) read contiguous ranges and GROUP BY visitor can run in order;
--   * message_id last: messages from the tag are UUIDv7, so within a visitor the rows are
--     in time order, and the key is unique per message for the Replacing engine.
CREATE TABLE IF NOT EXISTS footpath.events{on_cluster}
(
    message_id         String,
    site_id            LowCardinality(String),
    type               LowCardinality(String),
    event              String,
    name               String,
    timestamp          DateTime64(3, 'UTC') COMMENT 'event time, clock-skew corrected',
    original_timestamp Nullable(DateTime64(3, 'UTC')) COMMENT 'event time as the sender stated it',
    sent_at            Nullable(DateTime64(3, 'UTC')),
    received_at        DateTime64(3, 'UTC'),
    anonymous_id       String,
    user_id            String,
    group_id           String,
    previous_id        String COMMENT 'alias: the id being merged into user_id',
    session_id         String,
    seq                UInt32 COMMENT 'the tag''s per-session sequence number, 0 when absent',
    page_view_id       String,
    url                String,
    path               String,
    title              String,
    referrer           String,
    referrer_host      String,
    referrer_class     LowCardinality(String) COMMENT 'search | social | email | internal | referral | direct',
    utm_source         String,
    utm_medium         String,
    utm_campaign       String,
    utm_term           String,
    utm_content        String,
    click_id           String,
    click_id_type      LowCardinality(String) COMMENT 'gclid | fbclid | msclkid | ...',
    country_code       LowCardinality(String),
    region             String,
    city               String,
    asn                UInt32,
    as_org             String,
    browser            LowCardinality(String),
    browser_version    String,
    os                 LowCardinality(String),
    os_version         String,
    device_type        LowCardinality(String) COMMENT 'desktop | mobile | tablet | bot | other',
    is_bot             Bool,
    ip                 String COMMENT 'as stored: anonymised (/24, /48) by default, empty without consent',
    user_agent         String COMMENT 'empty without consent',
    locale             String,
    source             LowCardinality(String) COMMENT 'browser (public key) | server (write key)',
    library            String,
    consent_analytics  LowCardinality(String) COMMENT 'granted | denied | pending, as enforced',
    properties         String COMMENT 'JSON text: JSONExtractString(properties, ''key'')',
    traits             String COMMENT 'JSON text',
    context            String COMMENT 'JSON text of context fields not promoted to columns',
    INDEX idx_user user_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_event event TYPE set(1000) GRANULARITY 4
)
ENGINE = {replicated}ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (site_id, toDate(timestamp), anonymous_id, user_id, message_id)
SETTINGS
    -- Retried inserts carry insert_deduplication_token; keep enough block hashes to
    -- recognise a replay after a long outage.
    non_replicated_deduplication_window = 100000,
    -- The buffer deletes a segment only after ClickHouse confirmed the insert; make that
    -- confirmation mean "on disk".
    fsync_after_insert = 1,
    fsync_part_directory = 1;
