-- Retire the first report views (0020-0023): footpath.report_steps (0024, 0025) answers
-- fallout, segments and paths alone, and each view removed is one insert pipeline less per
-- block written to footpath.events.  The views go first so no insert feeds a dropped table.
-- Nothing else reads these tables (identity's erasure finds report tables by their
-- columns at run time, so it now deletes from report_steps).
DROP VIEW IF EXISTS footpath.report_sequences_mv{on_cluster};
DROP VIEW IF EXISTS footpath.report_events_mv{on_cluster};
DROP TABLE IF EXISTS footpath.report_sequences{on_cluster};
DROP TABLE IF EXISTS footpath.report_events{on_cluster};
