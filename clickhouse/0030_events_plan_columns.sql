-- Tracking-plan columns on footpath.events (collector/plans/).  Rows of sites without a
-- plan take the defaults: plan_version 0, empty status and arrays.
--
--   plan_version          the plan's "version" the row was checked against (0: no plan)
--   plan_status           planned | unplanned (track event not in the plan) | unchecked
--                         (a type the plan has no schema for) | '' (no plan)
--   violations            what failed, one tuple per error: JSON Schema keyword (type,
--                         required, enum, pattern, ...; unplanned_event), dotted path of
--                         the property, message.  Empty for a valid row.
--   unplanned_properties  top-level properties the event's schema does not name (removed
--                         from `properties` under plan_mode = strip, still listed here)
--   replayed              moved here from footpath.quarantine by `quarantine replay`; the
--                         quality views count such a row once, when it was quarantined
ALTER TABLE footpath.events{on_cluster}
    ADD COLUMN IF NOT EXISTS plan_version UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS plan_status LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS violations Array(Tuple(rule String, property String, message String)),
    ADD COLUMN IF NOT EXISTS unplanned_properties Array(String),
    ADD COLUMN IF NOT EXISTS replayed Bool DEFAULT false;

-- The cluster's Distributed table over footpath.events (0003) gets the same columns.
-- @cluster-only
ALTER TABLE footpath.events_all{on_cluster}
    ADD COLUMN IF NOT EXISTS plan_version UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS plan_status LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS violations Array(Tuple(rule String, property String, message String)),
    ADD COLUMN IF NOT EXISTS unplanned_properties Array(String),
    ADD COLUMN IF NOT EXISTS replayed Bool DEFAULT false;
