"""What a visit is, in SQL, for every query that counts or walks visits (attribution's
touches, a person's profile): a session id, the tag's `context.sessionId`; page and screen
views without one (Segment's libraries and analytics.js send none) are cut into visits per
device, the anonymous id (else the user id): more than VISIT_GAP_MS after the device's
previous such view starts a new one, as GA and Plausible count. Other events without a
session id are in no visit and start none (a server-side purchase is not a visit).

The reports' session container (docs/reports.md, collector/reports/visits.py) cuts the same
devices' session-less events at the same gap, but counts any event as activity, since every
event must belong to some session there; here visits are touchpoints, so views only."""

from __future__ import annotations

VISIT_GAP_MS = 30 * 60 * 1000

# A row that belongs to a device's session-less visit (columns of footpath.events).
VIEWLESS = "(session_id = '' AND type IN ('page', 'screen') AND (anonymous_id != '' OR user_id != ''))"
# The device such a row is counted under.
DEVICE = "if(anonymous_id != '', cityHash64('a', anonymous_id), cityHash64('u', user_id))"


# Visits counted with `uniqExactIf(session_id, session_id != '')` over the same rows, plus
# sessionless_visits_sql's count.
SESSION_VISITS = "uniqExactIf(session_id, session_id != '')"


def sessionless_visits_sql(condition: str) -> str:
    """SELECT of one UInt64: the visits of the session-less views among the rows matching
    `condition` (add SESSION_VISITS of the same rows for all their visits)."""
    return f"""
SELECT sum(1 + arrayCount((t, prev) -> t - prev > {VISIT_GAP_MS}, ts, arrayPopBack(arrayPushFront(ts, ts[1]))))
FROM (SELECT arraySort(groupArray(toUnixTimestamp64Milli(timestamp))) AS ts
      FROM footpath.events WHERE ({condition}) AND {VIEWLESS} GROUP BY {DEVICE})"""
