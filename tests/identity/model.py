"""An independent, deliberately naive implementation of the identity rules (README,
"Identity"), written from the rules' text rather than from identity/: the tests compare
what ClickHouse answers with what this says.

Messages are dicts: id, type, anon, user, prev, t (milliseconds), source."""

from __future__ import annotations

from typing import Any


def links(messages: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """(anonymous id, user id) -> first time seen together."""
    out: dict[tuple[str, str], int] = {}
    for m in messages:
        pairs = []
        if m.get("anon") and m.get("user"):
            pairs.append((m["anon"], m["user"]))
        if m["type"] == "alias" and m.get("source", "server") == "server" and m.get("prev") and m.get("user"):
            pairs.append((m["prev"], m["user"]))
        for p in pairs:
            out[p] = min(out.get(p, m["t"]), m["t"])
    return out


def canonical(messages: list[dict[str, Any]]) -> dict[str, str]:
    """user id -> canonical user id: ids joined by server aliases form one person, named by
    the target (userId) of the latest alias among them (ties: larger userId, then larger
    previousId).  Components by repeated flooding, not union-find."""
    edges: dict[tuple[str, str], int] = {}
    for m in messages:
        if m["type"] == "alias" and m.get("source", "server") == "server" and m.get("prev") and m.get("user") \
                and m["prev"] != m["user"]:
            k = (m["prev"], m["user"])
            edges[k] = min(edges.get(k, m["t"]), m["t"])
    neighbours: dict[str, set[str]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    result: dict[str, str] = {}
    for start in neighbours:
        if start in result:
            continue
        group, frontier = {start}, [start]
        while frontier:
            nxt = []
            for x in frontier:
                for y in neighbours[x]:
                    if y not in group:
                        group.add(y)
                        nxt.append(y)
            frontier = nxt
        inside = [(t, b, a) for (a, b), t in edges.items() if a in group]
        name = max(inside)[1]
        for x in group:
            result[x] = name
    return result


def persons(messages: list[dict[str, Any]]) -> dict[str, str]:
    """message id -> person id, by the rules."""
    lk = links(messages)
    canon = canonical(messages)

    def known(u: str) -> str:
        return "u:" + canon.get(u, u)

    out = {}
    for m in messages:
        if m.get("user"):
            out[m["id"]] = known(m["user"])
            continue
        anon = m.get("anon")
        if not anon:
            out[m["id"]] = ""
            continue
        mine = sorted((t, u) for (a, u), t in lk.items() if a == anon)
        if not mine:
            out[m["id"]] = "a:" + anon
            continue
        before = [x for x in mine if x[0] <= m["t"]]
        out[m["id"]] = known(before[-1][1] if before else mine[0][1])
    return out
