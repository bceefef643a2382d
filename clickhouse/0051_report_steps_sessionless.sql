-- footpath.report_steps.sessionless: 1 for a row stored without a session id (analytics.js,
-- Segment's app and server libraries send none; the tag always does).  A session report cuts
-- such a device's rows into visits at 30-minute gaps (collector/reports/visits.py), as
-- attribution and profiles already count visits (collector/query/visits.py); the views need
-- to know which rows those are, and report_steps keeps no session id.
--
-- A DEFAULT computed from the row's own stored columns, as identity_key (0045): a row
-- without a session id is exactly one whose container key is the hash of ('', anonymous id,
-- user id when there is no anonymous id) -- report_steps_mv's ck with an empty session id.
-- The view's inserts leave the column out and ClickHouse computes it (one cityHash64 of the
-- ids per row); it compresses to almost nothing.  The ids never change in place (erasure
-- deletes whole rows), so the stored value cannot go stale.
ALTER TABLE footpath.report_steps{on_cluster}
    ADD COLUMN IF NOT EXISTS sessionless UInt8
        DEFAULT ck = cityHash64('', anonymous_id, if(anonymous_id = '', user_id, ''))
        COMMENT '1: stored without a session id (a session report cuts it into visits)';

-- Rows stored before this migration: written in the background (a mutation); until a part is
-- rewritten, reading it computes the same default from the row.
ALTER TABLE footpath.report_steps{on_cluster} MATERIALIZE COLUMN sessionless;
