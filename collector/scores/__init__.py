"""Person scores: RFM (footpath.person_rfm) and lead score (footpath.person_lead_score),
configured per site (config.py), synced to ClickHouse (sync.py), usable as report segment
filters (segments.py) and shown in the person lookup (lookup.py).  See README.md."""
