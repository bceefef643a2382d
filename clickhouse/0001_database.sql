-- The one database Footpath owns.  Users query footpath.events with plain SQL.
CREATE DATABASE IF NOT EXISTS footpath{on_cluster};
