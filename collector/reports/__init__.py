"""Fallout (funnel) and path (flow) reports: request parsing (spec), SQL over the
materialized views or the raw table (sources, fallout, paths), the HTTP API (api)."""
