"""The lead score of one person, for GET /v1/persons (collector/query/persons.py)."""

from __future__ import annotations

from typing import Any

# person_key from a person id, as footpath.events_person (clickhouse/0017) defines it:
# cityHash64(site, canonical user id) for 'u:' persons, bitXor(cityHash64(site, ''),
# cityHash64(anonymous id)) for 'a:' persons.  Lets the view aggregate one person only.
_KEY = ("if(startsWith({pid:String}, 'u:'), cityHash64({site:String}, substring({pid:String}, 3)), "
        "bitXor(cityHash64({site:String}, ''), cityHash64(substring({pid:String}, 3))))")


def lead_score(client: Any, site: str, person_id: str) -> dict[str, Any] | None:
    """{score, tier, points, points_0_29, points_30_59, points_60_plus}, or None when the
    person has no scored events."""
    rows = client.query(
        "SELECT score, tier, points, points_0_29, points_30_59, points_60_plus FROM footpath.person_lead_score "
        f"WHERE site_id = {{site:String}} AND person_key = {_KEY}",
        parameters={"site": site, "pid": person_id}).result_rows
    if not rows:
        return None
    score, tier, points, p0, p30, p60 = rows[0]
    return {"score": int(score), "tier": tier, "points": round(float(points), 3),
            "points_0_29": float(p0), "points_30_59": float(p30), "points_60_plus": float(p60)}
