"""An independent model of the fallout and path reports, in plain Python.

It works from the messages the tests send (not from anything stored), and states the
semantics the long way: chains are enumerated, not folded; persons come from the
identity rules applied to the messages; paths are cut and grouped layer by layer.  The
report API must agree with it exactly."""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

INTERNAL = ("Page Engaged", "Consent Updated")
SEQ_CAP = (1 << 20) - 1


@dataclass
class Ev:
    site: str
    type: str
    ts: int  # unix ms
    seq: int = 0
    event: str = ""
    name: str = ""
    path: str = ""
    session_id: str = ""
    anonymous_id: str = ""
    user_id: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    utm_source: str = ""
    locale: str = ""
    is_bot: bool = False

    @property
    def label(self) -> str:
        """What a path step shows; '(none)' when that is empty (a page call without a
        URL, a screen without a name)."""
        return (self.path if self.type == "page" else self.name if self.type == "screen" else self.event) or "(none)"

    @property
    def kind(self) -> str:
        return self.type

    @property
    def internal(self) -> bool:
        return self.type == "track" and self.event in INTERNAL

    def order(self) -> tuple[int, int, str]:
        return (self.ts, min(self.seq, SEQ_CAP), self.label)


# -- matching ---------------------------------------------------------------------------------
def glob_regex(glob: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob) + r"\Z", re.S)


def prop_equal(have: Any, want: Any) -> bool:
    if isinstance(want, bool):
        return isinstance(have, bool) and have == want
    if isinstance(want, (int, float)):
        return isinstance(have, (int, float)) and not isinstance(have, bool) and float(have) == float(want)
    return isinstance(have, str) and have == want


def matches(ev: Ev, step: dict[str, Any]) -> bool:
    if step.get("type") is not None and ev.type != step["type"]:
        return False
    if step.get("event") is not None and (ev.event if ev.type == "track" else ev.name) != step["event"]:
        return False
    if step.get("path") is not None and not glob_regex(step["path"]).match(ev.path):
        return False
    for k, want in (step.get("properties") or {}).items():
        wants = want if isinstance(want, list) else [want]
        if k not in ev.properties or not any(prop_equal(ev.properties[k], w) for w in wants):
            return False
    return True


# -- containers -------------------------------------------------------------------------------
class Identity:
    """Identity rules (no aliases in these tests): a message with both ids links them from
    its time; an anonymous-only event belongs to the latest link at or before it, or the
    first link when it came before any; an id with no link is its own person."""

    def __init__(self, messages: list[Ev]):
        first: dict[tuple[str, str, str], int] = {}
        for m in messages:
            if m.anonymous_id and m.user_id:
                k = (m.site, m.anonymous_id, m.user_id)
                first[k] = min(first.get(k, m.ts), m.ts)
        self.links: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        for (site, anon, user), ts in first.items():
            self.links[(site, anon)].append((ts, user))
        for v in self.links.values():
            v.sort()

    def person(self, ev: Ev) -> str:
        if ev.user_id:
            return "u:" + ev.user_id
        if not ev.anonymous_id:
            return ""
        links = self.links.get((ev.site, ev.anonymous_id))
        if not links:
            return "a:" + ev.anonymous_id
        owner = links[0][1]
        for ts, user in links:
            if ts <= ev.ts:
                owner = user
        return "u:" + owner


def report_rows(events: list[Ev], site: str, start: int, end: int) -> list[Ev]:
    return [e for e in events if e.site == site and e.type in ("page", "screen", "track")
            and (e.session_id or e.anonymous_id or e.user_id) and start <= e.ts < end]


def container_key(ev: Ev, container: str, ident: Identity) -> Any:
    if container == "person":
        return ident.person(ev)
    return (ev.session_id, ev.anonymous_id, ev.user_id if not ev.session_id and not ev.anonymous_id else "")


def segment_persons(events: list[Ev], site: str, seg: dict[str, Any] | None, ident: Identity,
                    include_bots: bool) -> set[str] | None:
    if not seg:
        return None
    everyone = {ident.person(e) for e in report_rows(events, site, -(1 << 62), 1 << 62)} - {""}
    sets = []
    for f in seg["filters"]:
        lo = f.get("since", f.get("from"))
        hi = f.get("to")
        did = {ident.person(e) for e in report_rows(events, site, lo if lo is not None else -(1 << 62),
                                                     hi if hi is not None else 1 << 62)
               if (include_bots or not e.is_bot) and matches(e, f)} - {""}
        sets.append(did if f.get("did", True) else everyone - did)
    if seg.get("match", "all") == "all":
        return set.intersection(*sets)
    return set.union(*sets)


def grouped(events: list[Ev], req: dict[str, Any], ident: Identity) -> dict[Any, list[Ev]]:
    rows = report_rows(events, req["site"], req["from"], req["to"])
    seg = segment_persons(events, req["site"], req.get("segment"), ident, req.get("include_bots", False))
    out: dict[Any, list[Ev]] = defaultdict(list)
    for e in rows:
        if e.is_bot and not req.get("include_bots", False):
            continue
        if seg is not None and ident.person(e) not in seg:
            continue
        key = container_key(e, req["container"], ident)
        if key == "":
            continue
        out[key].append(e)
    if req["container"] == "session":
        out = split_visits(out)
    return out


VISIT_GAP_MS = 30 * 60 * 1000


def split_visits(containers: dict[Any, list[Ev]]) -> dict[Any, list[Ev]]:
    """A device's events without a session id, cut into visits: a new one wherever more than
    30 minutes pass between one event it reads and the next (whatever the report's steps)."""
    out: dict[Any, list[Ev]] = {}
    for key, evs in containers.items():
        if key[0] != "":  # a session id: the tag's session as it is
            out[key] = evs
            continue
        visit = 0
        ordered = sorted(evs, key=lambda e: e.ts)
        for i, e in enumerate(ordered):
            if i and e.ts - ordered[i - 1].ts > VISIT_GAP_MS:
                visit += 1
            out.setdefault((key, visit), []).append(e)
    return out


# -- fallout ----------------------------------------------------------------------------------
def chains(seq: list[Ev], steps: list[dict[str, Any]], window_ms: int, strict: bool) -> list[tuple[int, ...]]:
    """Every valid chain (any length >= 1) as index tuples into seq."""
    out = []

    def extend(chain: tuple[int, ...]) -> None:
        out.append(chain)
        k = len(chain)
        if k == len(steps):
            return
        nxt = [chain[-1] + 1] if strict else range(chain[-1] + 1, len(seq))
        for i in nxt:
            if i < len(seq) and matches(seq[i], steps[k]) and seq[i].ts - seq[chain[0]].ts <= window_ms:
                extend(chain + (i,))

    for i, e in enumerate(seq):
        if matches(e, steps[0]):
            extend((i,))
    return out


def fallout(events: list[Ev], req: dict[str, Any]) -> dict[str, Any]:
    ident = Identity(events)
    steps = req["steps"]
    n = len(steps)
    window = req.get("window_seconds", 30 * 86400) * 1000
    strict = req.get("mode", "eventual") == "strict"
    per_value: dict[str, list[tuple[int, list[int]]]] = defaultdict(list)
    for evs in grouped(events, req, ident).values():
        # equal times: by sequence number, then by the steps matched (the lower first)
        evs = sorted(evs, key=lambda e: (*e.order()[:2], sum(1 << i for i, s in enumerate(steps) if matches(e, s))))
        if strict:
            seq = [e for e in evs if not e.internal or any(matches(e, s) for s in steps)]
        else:
            seq = [e for e in evs if any(matches(e, s) for s in steps)]
        found = chains(seq, steps, window, strict)
        if not found:
            continue
        level = max(len(c) for c in found)
        # the last step first, then the latest start time (of equal times, the first event), then
        # the earliest steps
        best = min((c for c in found if len(c) == level),
                   key=lambda c: (c[-1], tuple(-x for x in seq[c[0]].order()[:2]), c))
        value = ""
        if req.get("breakdown"):
            first = next(e for e in seq if matches(e, steps[0]))
            dim = req["breakdown"]
            if dim.startswith("properties."):
                v = first.properties.get(dim[len("properties."):])
                value = "" if v is None else v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
            else:
                value = str(getattr(first, dim))
        per_value[value].append((level, [seq[i].ts for i in best]))

    def summarize(items: list[tuple[int, list[int]]]) -> list[dict[str, Any]]:
        entered = [sum(1 for lv, _ in items if lv >= k) for k in range(1, n + 1)]
        out = []
        for k in range(n):
            diffs = [tm[k + 1] - tm[k] for lv, tm in items if lv >= k + 2]
            cont = entered[k + 1] if k + 1 < n else entered[k]
            out.append({
                "entered": entered[k], "continued": cont, "fell_out": entered[k] - cont,
                "conversion_from_first": round(entered[k] / entered[0], 6) if entered[0] else 0.0,
                "conversion_from_previous": (round(entered[k] / entered[k - 1], 6) if k and entered[k - 1]
                                             else (1.0 if not k and entered[0] else 0.0)),
                "median_seconds_to_next": round(statistics.median(diffs) / 1000, 3) if diffs and k + 1 < n else None,
            })
        return out

    everything = [x for items in per_value.values() for x in items]
    result: dict[str, Any] = {"steps": summarize(everything), "breakdown": {}}
    if req.get("breakdown"):
        limit = req.get("breakdown_limit", 20)
        ranked = sorted(per_value, key=lambda v: (-sum(1 for lv, _ in per_value[v] if lv >= 1), v))
        other: list[tuple[int, list[int]]] = []
        for i, v in enumerate(ranked):
            if i < limit:
                result["breakdown"][v or "(none)"] = {"steps": summarize(per_value[v])}
            else:
                other += per_value[v]
        if other:
            result["breakdown"]["(other)"] = {"steps": summarize(other)}
    return result


# -- paths ------------------------------------------------------------------------------------
EXIT, ENTRY, OTHER = "(exit)", "(entry)", "(other)"


def paths(events: list[Ev], req: dict[str, Any]) -> dict[str, Any]:
    ident = Identity(events)
    depth = req.get("depth", 5)
    top = req.get("top", 5)
    include = set(req.get("include", ["page"]))
    anchor = req.get("start") or req.get("end")
    backward = req.get("end") is not None
    cut_paths: list[list[str]] = []
    for evs in grouped(events, req, ident).values():
        evs = sorted(evs, key=Ev.order)
        stream = [(e, anchor is not None and matches(e, anchor)) for e in evs]
        stream = [(e, a) for e, a in stream
                  if a or (e.kind in include and (req.get("include_internal", False) or not e.internal))]
        if req.get("collapse_repeats"):
            stream = [x for i, x in enumerate(stream)
                      if i == 0 or (x[0].label, x[0].kind) != (stream[i - 1][0].label, stream[i - 1][0].kind)]
        if not stream:
            continue
        if anchor is None:
            labels = [e.label for e, _ in stream[: depth + 1]]
        elif not backward:
            idx = [i for i, (_, a) in enumerate(stream) if a]
            if not idx:
                continue
            labels = [e.label for e, _ in stream[idx[0]: idx[0] + depth + 1]]
        else:
            idx = [i for i, (_, a) in enumerate(stream) if a]
            if not idx:
                continue
            j = idx[-1]
            labels = [stream[i][0].label for i in range(j, max(-1, j - depth - 1), -1)]
        if len(labels) <= depth:
            labels.append(ENTRY if backward else EXIT)
        cut_paths.append(labels)
    # layer by layer: node of each path at each depth
    nodes_of: list[list[str]] = [[] for _ in cut_paths]
    for d in range(depth + 1):
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        active = [i for i, p in enumerate(cut_paths) if d < len(p)]  # a path ends at its (exit)/(entry)
        for i in active:
            parent = nodes_of[i][d - 1] if d else "ROOT"
            counts[parent][cut_paths[i][d]] += 1
        keep = {}
        for parent, c in counts.items():
            ranked = sorted((lab for lab in c if lab not in (EXIT, ENTRY)), key=lambda lab: (-c[lab], lab))
            keep[parent] = set(ranked[:top]) | {EXIT, ENTRY}
        for i in active:
            parent = nodes_of[i][d - 1] if d else "ROOT"
            label = cut_paths[i][d]
            nodes_of[i].append(label if label in keep[parent] else OTHER)
    sign = -1 if backward else 1
    node_counts: Counter[str] = Counter()
    link_counts: Counter[tuple[str, str]] = Counter()
    for chain in nodes_of:
        for d, lab in enumerate(chain):
            node_counts[f"{sign * d}:{lab}"] += 1
            if d:
                a, b = f"{sign * (d - 1)}:{chain[d - 1]}", f"{sign * d}:{lab}"
                link_counts[(b, a) if backward else (a, b)] += 1
    return {"nodes": dict(node_counts), "links": dict(link_counts), "containers": len(cut_paths)}
