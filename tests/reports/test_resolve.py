"""Person reports on the views resolve each row's person in the collector
(collector/reports/resolve.py, persons.py): the same person keys as footpath.events_person,
the same reports as when the engine resolves them, and the engine's path wherever the
rule or the dictionary is not the one resolve.py was written for."""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from collector.reports import api, persons, resolve
from collector.reports.sources import person_select
from tests.identity.conftest import at, fresh, msg, post
from tests.reports.conftest import as_plain_python

SEQ = 21


# -- the compiled lookup against a plain model of events_person's rule -------------------------
def model(entries: dict[int, tuple[int, list[int], list[int]]], before: int, key: int, t: int) -> int:
    """events_person's person_key (0017) of a row, written out: entries maps a key to (its
    person_key, froms, the ranges' person keys)."""
    if key == 0:
        return 0
    found, froms, pks = entries.get(key, (key, [], []))
    if found != 1:
        return found
    at = [j for j, f in enumerate(froms) if f <= t >> SEQ]  # arrayLastIndex: the last, in any order
    return pks[at[-1]] if at else before


def random_case(rng: random.Random, n_entries: int) -> tuple[dict[int, tuple[int, list[int], list[int]]], int]:
    entries = {}
    for _ in range(n_entries):
        key = rng.getrandbits(64) or 7
        kind = rng.random()
        if kind < 0.3:  # a shared device: its ranges, unsorted at times, none at times
            ranges = [(rng.randrange(-5, 50) * 1000, rng.getrandbits(64)) for _ in range(rng.randrange(0, 5))]
            if rng.random() < 0.5:
                ranges.sort()
            entries[key] = (1, [f for f, _ in ranges], [p for _, p in ranges])
        elif kind < 0.35:
            entries[key] = (0, [], [])  # a person key of 0: such rows have no person
        else:
            entries[key] = (rng.getrandbits(64), [], [])
    return entries, rng.getrandbits(64)


def resolver_of(entries: dict[int, tuple[int, list[int], list[int]]], before: int) -> persons.Resolver:
    keys = np.array(list(entries), dtype=np.uint64)
    values = np.array([v[0] for v in entries.values()], dtype=np.uint64)
    ranges = np.array([i if v[0] == 1 else -1 for i, v in enumerate(entries.values())], dtype=np.int64)
    starts = np.cumsum([0] + [len(v[1]) for v in entries.values()]).astype(np.int64)
    froms = np.array([f for v in entries.values() for f in v[1]], dtype=np.int64)
    pks = np.array([p for v in entries.values() for p in v[2]], dtype=np.uint64)
    return persons.Resolver(keys, values, ranges, starts, froms, pks, before)


def random_rows(rng: random.Random, entries: dict[int, Any], n: int) -> tuple[np.ndarray, np.ndarray]:
    pool = list(entries) + [rng.getrandbits(64) for _ in range(20)] + [0, 1]
    ids, ts = [], []
    while len(ids) < n:
        key = rng.choice(pool)
        for _ in range(rng.randrange(1, 6)):  # a run of one key, as a session brings them
            ids.append(key)
            ts.append((rng.randrange(-3, 55) * 1000 + rng.randrange(0, 3)) % (1 << 43) << SEQ | rng.randrange(0, 9))
    return np.array(ids[:n], dtype=np.uint64), np.array(ts[:n], dtype=np.uint64)


@pytest.mark.parametrize("n_entries", [0, 1, 40, 3000])
def test_resolve_applies_the_rule_of_events_person(n_entries: int) -> None:
    rng = random.Random(n_entries)
    entries, before = random_case(rng, n_entries)
    r = resolver_of(entries, before)
    ids, ts = random_rows(rng, entries, 20_000)
    expect = [model(entries, before, int(k), int(t)) for k, t in zip(ids, ts, strict=True)]
    out, zeros = r(ids.copy(), ts)
    assert out.tolist() == expect
    assert zeros == expect.count(0) and (n_entries < 40 or 0 < zeros < len(expect))
    if n_entries >= 40:  # every kind of row was met: absent keys, plain entries, ranges, `before`
        assert len(set(expect) & {v[0] for v in entries.values()}) > 10
        assert before in expect and set(ids.tolist()) - set(entries) - {0, 1}


def test_plain_python_resolves_as_the_compiled_module() -> None:
    rng = random.Random(5)
    entries, before = random_case(rng, 300)
    compiled = resolver_of(entries, before)
    ids, ts = random_rows(rng, entries, 3000)
    plain = as_plain_python(resolve)
    table, bits = np.zeros_like(compiled.table), np.zeros_like(compiled.bits)
    keys = np.array(list(entries), dtype=np.uint64)
    values = np.array([v[0] for v in entries.values()], dtype=np.uint64)
    ranges = np.array([i if v[0] == 1 else -1 for i, v in enumerate(entries.values())], dtype=np.int64)
    assert plain.build(keys, values, ranges, table, bits) == len(entries)
    assert table.tolist() == compiled.table.tolist() and bits.tolist() == compiled.bits.tolist()
    out = np.empty_like(ids)
    zeros = plain.resolve(ids, ts, table, bits, compiled.starts, compiled.froms, compiled.pkeys, before, out)
    assert (out.tolist(), zeros) == (lambda o: (o[0].tolist(), o[1]))(compiled(ids.copy(), ts))


def test_a_full_table_finds_every_key_and_its_filter_lets_few_absent_keys_through() -> None:
    rng = random.Random(11)
    keys = np.array(sorted({rng.getrandbits(64) | 1 for _ in range(50_000)}), dtype=np.uint64)
    values = keys ^ np.uint64(0xABCDEF)
    r = persons.Resolver(keys, values, np.full(len(keys), -1, dtype=np.int64), np.zeros(1, dtype=np.int64),
                         np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64), 3)
    out, _ = r(keys.copy(), np.zeros(len(keys), dtype=np.uint64))
    assert (out == values).all()
    absent = np.array([rng.getrandbits(64) for _ in range(100_000)], dtype=np.uint64)
    b = (absent >> np.uint64(32)) & np.uint64(len(r.bits) * 64 - 1)
    passed = (r.bits[b >> np.uint64(6)] >> (b & np.uint64(63))) & np.uint64(1)
    assert 0 < passed.mean() < 0.08  # ~1/16 of the bits are set
    assert (r(absent.copy(), np.zeros(len(absent), dtype=np.uint64))[0] == absent).all()


# -- against the engine ------------------------------------------------------------------------
def identity_story(server: Any) -> None:
    """A shared kiosk (three users, browsing before, between and after their logins), an
    alias merge with anonymous browsing on the merged user's device, an id never linked,
    rows with a user id only."""
    batch = [msg("track", 0.5, anon="kiosk", event="Viewed")]
    for i in range(3):
        batch += [msg("identify", 1 + i, anon="kiosk", user=f"k{i}"),
                  msg("track", 1.5 + i, anon="kiosk", event="Viewed"),
                  msg("page", 1.7 + i, anon="kiosk", event="Cart")]
    batch += [msg("track", 0.2, anon="md", event="Viewed"), msg("identify", 1, anon="md", user="m1"),
              msg("page", 1.2, anon="md", event="Cart"), msg("track", 5, user="m1", event="Bought"),
              msg("alias", 10, user="m2", previousId="m1"), msg("track", 11, user="m2", event="Viewed"),
              msg("track", 2, anon="lonely", event="Viewed"), msg("page", 3, anon="lonely", event="Cart"),
              msg("track", 4, user="solo", event="Bought")]
    post(server, batch)
    fresh(server)


def test_persons_resolved_in_the_collector_are_events_persons(server: Any) -> None:
    identity_story(server)
    client = server.collector.store.new_reader(row_limit=False)  # the reports' kind of client
    assert persons.usable(client), "the server's events_person is not persons.RULE: check resolve.py's rule"
    sql = f"SELECT identity_key, t, person_key FROM ({person_select(client)} PREWHERE site_id = {{s:String}})"
    ids, ts, expect = (np.array(c, dtype=np.uint64) for c in client.query(sql, parameters={"s": server.site.id})
                       .result_columns)
    r = persons.resolver(client, server.site.id)
    assert r is not None and len(r.froms) >= 3  # the kiosk's three ranges were read
    out, zeros = r(ids.copy(), ts)
    assert out.tolist() == expect.tolist() and zeros == 0
    assert len(ids) == 14
    by_id: dict[int, set[int]] = {}
    for k, p in zip(ids.tolist(), out.tolist(), strict=True):
        by_id.setdefault(k, set()).add(p)
    # the kiosk's rows are three persons'; md's, m1's and m2's one (the alias); lonely, solo
    assert sorted(len(v) for v in by_id.values()) == [1, 1, 1, 1, 1, 3]
    assert len(set(out.tolist())) == 6


def test_reports_are_the_same_resolved_by_the_collector_or_by_the_engine(server: Any, monkeypatch: Any) -> None:
    identity_story(server)
    store = server.collector.store
    fallout = {"site": server.site.id, "from": at(-86400), "to": at(2 * 86400), "container": "person",
               "window_seconds": 86400, "source": "mv",
               "steps": [{"type": "track", "event": "Viewed"}, {"type": "page"}, {"event": "Bought"}]}
    paths = {"site": server.site.id, "from": at(-86400), "to": at(2 * 86400), "container": "person",
             "include": ["page", "track"], "depth": 4, "top": 3, "source": "mv"}
    used = []
    monkeypatch.setattr(persons, "for_report", lambda spec, client, real=persons.for_report:
                        used.append(real(spec, client)) or used[-1])
    got = [api.run_fallout(store, fallout), api.run_paths(store, paths)]
    assert len(used) == 2 and None not in used
    monkeypatch.setattr(persons, "for_report", lambda spec, client: None)
    engine = [api.run_fallout(store, fallout), api.run_paths(store, paths)]
    raw = [api.run_fallout(store, {**fallout, "source": "raw"}), api.run_paths(store, {**paths, "source": "raw"})]
    strip = ("elapsed_ms", "source")
    for a, b, c in zip(got, engine, raw, strict=True):
        assert {k: v for k, v in a.items() if k not in strip} == {k: v for k, v in b.items() if k not in strip} \
            == {k: v for k, v in c.items() if k not in strip}
    # viewed: k0 (before any login too), k1, k2, m2 (as md, before the login), lonely; each
    # then viewed a page; bought: m2 only (as m1, before the alias; solo never viewed)
    assert [s["entered"] for s in got[0]["steps"]] == [5, 5, 1]


def test_the_engine_resolves_when_the_rule_or_the_dictionary_is_not_resolves(server: Any, monkeypatch: Any,
                                                                           caplog: Any) -> None:
    identity_story(server)
    client = server.collector.store.new_reader(row_limit=False)  # the reports' kind of client
    spec = type("Spec", (), {"container": "person", "segment": None, "site": server.site.id})()
    assert persons.for_report(spec, client) is not None
    monkeypatch.setattr(persons, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="footpath.reports"):
        monkeypatch.setattr(persons, "RULE", persons.RULE.replace("!= 1", "!= 2"))
        assert persons.for_report(spec, client) is None
        monkeypatch.undo()
        monkeypatch.setattr(persons, "_warned", set())
        monkeypatch.setattr(persons, "MAX_ENTRIES", 2)
        assert persons.for_report(spec, client) is None
    assert "not the rule" in caplog.text and "entries" in caplog.text
    def unreadable(client: Any, site: str) -> None:
        raise DatabaseError("Code: 36. DB::Exception: dictionary failed to load")

    monkeypatch.undo()
    monkeypatch.setattr(persons, "resolver", unreadable)
    with caplog.at_level(logging.WARNING, logger="footpath.reports"):
        assert persons.for_report(spec, client) is None
    assert "dictionary failed to load" in caplog.text
    segment = type("Spec", (), {"container": "person", "segment": object(), "site": server.site.id})()
    session = type("Spec", (), {"container": "session", "segment": None, "site": server.site.id})()
    assert persons.for_report(segment, client) is None and persons.for_report(session, client) is None
