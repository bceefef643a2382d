"""Person resolution for the admin API: which ids make up a person, which events are its
events, and the profile shown by GET /v1/persons/{site}/{id} and `footpath person`.

A person's events are selected with an explicit condition built from the link tables
(user ids, and for anonymous-only events the validity ranges of
footpath.identity_link_ranges that belong to the person), not through the dictionary,
so the answer is exact right after an insert and erasure deletes exactly what the
footpath.events_person view attributes to the person (tests check they agree)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from collector.query.sql import jsonable
from collector.query.visits import SESSION_VISITS, sessionless_visits_sql
from identity.rules import anonymous_person, split_person_id, user_person

MIN_MS = -9223372036854775807
MAX_MS = 9223372036854775807


class PersonError(Exception):
    def __init__(self, status: int, reason: str, candidates: list[str] | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.candidates = candidates or []


@dataclass
class Person:
    site_id: str
    person_id: str
    kind: str  # known | anonymous
    user_ids: list[str]  # canonical first
    links: list[dict[str, Any]] = field(default_factory=list)
    ranges: list[tuple[str, int, int]] = field(default_factory=list)  # anonymous-only events
    shared: list[str] = field(default_factory=list)  # anonymous ids also linked to other persons

    @property
    def anonymous_ids(self) -> list[str]:
        return sorted({r[0] for r in self.ranges} | {link["anonymous_id"] for link in self.links})

    @property
    def exclusive_anonymous_ids(self) -> list[str]:
        return [a for a in self.anonymous_ids if a not in self.shared]


def _canonical_of(client: Client, site: str, user_ids: list[str]) -> dict[str, str]:
    rows = client.query(
        "SELECT user_id, argMax(canonical_id, generation) FROM footpath.identity_canonical "
        "WHERE site_id = {s:String} AND user_id IN {ids:Array(String)} GROUP BY user_id",
        parameters={"s": site, "ids": user_ids}).result_rows
    found = dict(rows)
    return {u: found.get(u, u) for u in user_ids}


def _user_known(client: Client, site: str, user_id: str) -> bool:
    p = {"s": site, "u": user_id}
    for sql in ("SELECT 1 FROM footpath.identity_links WHERE site_id = {s:String} AND user_id = {u:String} LIMIT 1",
                "SELECT 1 FROM footpath.identity_merges WHERE site_id = {s:String} "
                "AND (user_id = {u:String} OR previous_id = {u:String}) LIMIT 1",
                "SELECT 1 FROM footpath.events WHERE site_id = {s:String} AND user_id = {u:String} LIMIT 1"):
        if client.query(sql, parameters=p).result_rows:
            return True
    return False


def _known_person(client: Client, site: str, user_id: str) -> Person:
    canon = _canonical_of(client, site, [user_id])[user_id]
    members = client.query(
        "SELECT user_id FROM (SELECT user_id, argMax(canonical_id, generation) AS c FROM footpath.identity_canonical "
        "WHERE site_id = {s:String} GROUP BY user_id) WHERE c = {c:String}",
        parameters={"s": site, "c": canon}).result_rows
    users = [canon] + sorted({m[0] for m in members} - {canon})
    links = [
        {"anonymous_id": a, "user_id": u, "first_seen": f, "last_seen": ls, "messages": int(n)}
        for a, u, f, ls, n in client.query(
            "SELECT anonymous_id, user_id, min(first_seen), max(last_seen), sum(messages) FROM footpath.identity_links "
            "WHERE site_id = {s:String} AND user_id IN {u:Array(String)} GROUP BY anonymous_id, user_id "
            "ORDER BY min(first_seen), anonymous_id", parameters={"s": site, "u": users}).result_rows]
    anons = sorted({link["anonymous_id"] for link in links})
    ranges: list[tuple[str, int, int]] = []
    others: set[str] = set()
    if anons:
        rows = client.query(
            "SELECT anonymous_id, user_id, valid_from, valid_to FROM footpath.identity_link_ranges "
            "WHERE site_id = {s:String} AND anonymous_id IN {a:Array(String)}",
            parameters={"s": site, "a": anons}).result_rows
        mine = set(users)
        ranges = sorted((a, int(f), int(t)) for a, u, f, t in rows if u in mine)
        foreign = {u for _, u, _, _ in rows if u not in mine}
        if foreign:
            others = {a for a, _ in client.query(
                "SELECT DISTINCT anonymous_id, user_id FROM footpath.identity_links WHERE site_id = {s:String} "
                "AND anonymous_id IN {a:Array(String)} AND user_id NOT IN {u:Array(String)}",
                parameters={"s": site, "a": anons, "u": users}).result_rows}
    return Person(site, user_person(canon), "known", users, links, ranges, sorted(others))


def resolve(client: Client, site: str, ref: str) -> Person:
    """A person from 'u:<user id>', 'a:<anonymous id>', or a bare id (user id first)."""
    kind, ident = split_person_id(ref)
    if not ident:
        raise PersonError(400, "empty id")
    if kind in ("user", "any") and _user_known(client, site, ident):
        return _known_person(client, site, ident)
    if kind == "user":
        raise PersonError(404, f"no user id {ident!r} on site {site!r}")
    linked = [u for (u,) in client.query(
        "SELECT DISTINCT user_id FROM footpath.identity_links WHERE site_id = {s:String} AND anonymous_id = {a:String}",
        parameters={"s": site, "a": ident}).result_rows]
    if not linked:
        seen = client.query("SELECT 1 FROM footpath.events WHERE site_id = {s:String} AND anonymous_id = {a:String} "
                            "LIMIT 1", parameters={"s": site, "a": ident}).result_rows
        if not seen:
            raise PersonError(404, f"no user id or anonymous id {ident!r} on site {site!r}")
        return Person(site, anonymous_person(ident), "anonymous", [], [], [(ident, MIN_MS, MAX_MS)])
    persons = sorted({user_person(c) for c in _canonical_of(client, site, linked).values()})
    if kind == "any" and len(persons) == 1:
        return _known_person(client, site, persons[0][2:])
    why = ("is linked to known users; its events belong to them" if kind == "anonymous"
           else "is a shared device linked to several persons; name one")
    raise PersonError(409, f"anonymous id {ident!r} {why}", persons)


def event_condition(person: Person, columns: frozenset[str] | None = None,
                    exprs: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """WHERE clause (and parameters) selecting the person's events in footpath.events, or
    in another table with the named columns (None: footpath.events); `exprs` spells a
    column differently (e.g. a JSON extract from a stored row)."""
    cols = columns or frozenset({"user_id", "anonymous_id", "previous_id", "timestamp"})
    e = {c: c for c in ("user_id", "anonymous_id", "previous_id")} | (exprs or {})
    params: dict[str, Any] = {"id_site": person.site_id}
    parts = []
    if person.user_ids and "user_id" in cols:
        params["id_users"] = person.user_ids
        parts.append(f"{e['user_id']} IN {{id_users:Array(String)}}")
        if "previous_id" in cols:
            parts.append(f"{e['previous_id']} IN {{id_users:Array(String)}}")
    if person.ranges and {"user_id", "anonymous_id", "timestamp"} <= cols:
        params["id_anons"] = sorted({r[0] for r in person.ranges})
        params["id_ranges"] = person.ranges
        ms = "toUnixTimestamp64Milli(timestamp)" if columns is None else "toUnixTimestamp64Milli(toDateTime64(timestamp, 3))"
        parts.append(f"({e['user_id']} = '' AND {e['anonymous_id']} IN {{id_anons:Array(String)}} "
                     f"AND arrayExists(r -> r.1 = {e['anonymous_id']} AND {ms} BETWEEN r.2 AND r.3, "
                     "{id_ranges:Array(Tuple(String, Int64, Int64))}))")
    if not parts:
        return "0", params
    return "site_id = {id_site:String} AND (" + " OR ".join(parts) + ")", params


def profile(client: Client, person: Person, recent: int = 20) -> dict[str, Any]:
    """What GET /v1/persons answers: ids, latest traits, first and last seen, counts."""
    cond, p = event_condition(person)
    total, first, last, sessions = client.query(
        f"SELECT count(), min(timestamp), max(timestamp), {SESSION_VISITS} FROM footpath.events WHERE {cond}",
        parameters=p).result_rows[0]
    sessions += client.query(sessionless_visits_sql(cond), parameters=p).result_rows[0][0] or 0
    by_type = dict(client.query(f"SELECT type, count() FROM footpath.events WHERE {cond} GROUP BY type ORDER BY type",
                                parameters=p).result_rows)
    top = client.query(f"SELECT event, count() AS n FROM footpath.events WHERE {cond} AND event != '' "
                       "GROUP BY event ORDER BY n DESC, event LIMIT 20", parameters=p).result_rows
    traits: dict[str, Any] = {}
    if person.user_ids:
        rows = client.query(
            "SELECT traits FROM footpath.events WHERE site_id = {id_site:String} AND type = 'identify' "
            "AND user_id IN {id_users:Array(String)} ORDER BY timestamp DESC, received_at DESC LIMIT 1000",
            parameters=p).result_rows
        for (text,) in reversed(rows):
            try:
                doc = orjson.loads(text or "{}")
            except orjson.JSONDecodeError:
                continue
            if isinstance(doc, dict):
                traits.update(doc)
    latest = client.query(
        f"SELECT timestamp, type, event, name, path, anonymous_id, user_id FROM footpath.events WHERE {cond} "
        "ORDER BY timestamp DESC LIMIT {id_recent:UInt32}", parameters={**p, "id_recent": recent}).result_rows
    doc = {
        "site": person.site_id, "person_id": person.person_id, "kind": person.kind,
        "user_ids": person.user_ids, "anonymous_ids": person.anonymous_ids,
        "shared_anonymous_ids": person.shared, "traits": traits,
        "first_seen": first if total else None, "last_seen": last if total else None,
        "events": {"total": int(total), "by_type": by_type, "top": [{"event": e, "count": n} for e, n in top]},
        "sessions": int(sessions), "links": person.links,
        "recent": [dict(zip(("timestamp", "type", "event", "name", "path", "anonymous_id", "user_id"), r, strict=True))
                   for r in latest],
    }
    return jsonable(doc)
