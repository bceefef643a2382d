"""Identity rules that live in Python: person id spelling and alias merges.

Time-ordered attribution of anonymous events lives in SQL (clickhouse/0015, the view
identity_link_ranges) so that users querying ClickHouse get the same persons as the API.
What lives here is what SQL does badly: connected components of the alias graph.

Merge rule: every server-side ``alias`` (previous_id -> user_id) is an undirected edge;
the user ids of one connected component are one person.  Its canonical user id is the
``user_id`` of the component's latest alias (by alias time, ties by user_id then
previous_id) -- Segment's "the new id is the one to use from now on".  The result is a
function of the edge set only, never of the order edges arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

USER_PREFIX = "u:"
ANON_PREFIX = "a:"


@dataclass(frozen=True, slots=True)
class Edge:
    previous_id: str
    user_id: str
    first_ms: int  # alias event time, unix milliseconds


def user_person(canonical_user_id: str) -> str:
    return USER_PREFIX + canonical_user_id


def anonymous_person(anonymous_id: str) -> str:
    return ANON_PREFIX + anonymous_id


def split_person_id(ref: str) -> tuple[str, str]:
    """'u:x' -> ('user', 'x'); 'a:x' -> ('anonymous', 'x'); anything else -> ('any', ref)."""
    if ref.startswith(USER_PREFIX) and len(ref) > 2:
        return "user", ref[2:]
    if ref.startswith(ANON_PREFIX) and len(ref) > 2:
        return "anonymous", ref[2:]
    return "any", ref


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        root = parent.setdefault(x, x)
        while root != parent[root]:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


def canonical_map(edges: Iterable[Edge]) -> dict[str, str]:
    """Every user id that takes part in an alias -> the canonical user id of its person."""
    first: dict[tuple[str, str], int] = {}  # an alias sent twice counts from its first time
    for e in edges:
        if e.previous_id and e.user_id and e.previous_id != e.user_id:
            k = (e.previous_id, e.user_id)
            first[k] = min(first.get(k, e.first_ms), e.first_ms)
    uf = _UnionFind()
    for prev, user in first:
        uf.union(prev, user)
    latest: dict[str, tuple[int, str, str]] = {}
    for (prev, user), ms in first.items():
        root = uf.find(user)
        key = (ms, user, prev)
        if root not in latest or key > latest[root]:
            latest[root] = key
    return {uid: latest[uf.find(uid)][1] for uid in uf.parent}
