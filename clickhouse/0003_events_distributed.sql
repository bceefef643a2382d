-- Cluster mode only (`footpath migrate --cluster NAME`): footpath.events on each shard is
-- the Replicated local table; footpath.events_all spreads inserts and queries over the
-- shards.  Sharding by (site_id, anonymous_id) keeps a visitor's events on one shard, so
-- per-visitor funnels and paths aggregate locally (distributed_group_by_no_merge-friendly).
-- Single-node installs skip this file's statement.
-- @cluster-only
CREATE TABLE IF NOT EXISTS footpath.events_all{on_cluster} AS footpath.events
ENGINE = Distributed({cluster}, footpath, events, cityHash64(site_id, anonymous_id));
