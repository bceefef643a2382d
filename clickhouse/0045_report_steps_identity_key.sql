-- footpath.report_steps.identity_key: identity's key of each row, stored, so a person report
-- on the views resolves persons from one UInt64 instead of reading and hashing both id
-- strings of every row.
--
-- The value is footpath.events_person's identity key (0017; 0016 keys the person dictionary
-- on it): cityHash64(site_id, user_id) for a row with a user id,
-- bitXor(cityHash64(site_id, ''), cityHash64(anonymous_id)) for an anonymous-only row; and
-- 0 for a row with neither id (a session id alone), which belongs to no person: events_person
-- multiplies its person_key by (user_id != '' OR anonymous_id != ''), which on this table is
-- identity_key != 0.  collector/reports/sources.py (person_select) substitutes the column
-- for those two expressions when it re-targets events_person's SELECT here; tests/reports
-- check the substitution happens and that persons on the views equal the raw table's.
--
-- A DEFAULT, not a column of report_steps_mv's SELECT: the view's inserts, and its backfill
-- in 0025 on a fresh install, leave the column out and ClickHouse computes it from the same
-- row.  Measured at 10M rows (BENCHMARKS.md, Reports): the person fallout's stream 850 -> 680
-- ms wall; 12 MiB compressed.  The ids it is computed from never change in place (erasure
-- deletes whole rows), so a stored key cannot go stale; a merge or alias is applied through
-- the dictionary at query time, as before.
ALTER TABLE footpath.report_steps{on_cluster}
    ADD COLUMN IF NOT EXISTS identity_key UInt64
        DEFAULT if(user_id = '' AND anonymous_id = '', 0,
                   bitXor(cityHash64(site_id, user_id), cityHash64(anonymous_id) * (user_id = '')))
        COMMENT 'identity key (0016/0017); 0: no user or anonymous id';

-- Rows stored before this migration: written in the background (a mutation); until a part is
-- rewritten, reading it computes the same default from the row.
ALTER TABLE footpath.report_steps{on_cluster} MATERIALIZE COLUMN identity_key;
