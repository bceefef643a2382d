"""Per-site retention reaches every table that holds per-event or per-person rows
(collector/write/retention.py): after the TTL is applied, a site's rows older than its
retention are gone from each table, newer rows and other sites' rows stay."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from collector.write.retention import EXEMPT, RETAINED, apply_retention, site_tables, unlisted_tables
from collector.write.store import apply_migrations

DAYS = 2
EVENT_COLS = ["message_id", "site_id", "type", "event", "name", "timestamp", "received_at", "anonymous_id",
              "user_id", "previous_id", "session_id", "path", "source", "properties", "violations"]
QUARANTINE_COLS = ["site_id", "message_id", "type", "event", "source", "timestamp", "received_at", "plan_version",
                   "plan_status", "violations", "reason", "properties", "row"]
VIOLATION = [("type", "price", "'x' is not of type 'number'")]


@pytest.fixture(scope="module")
def engine(ch):
    apply_migrations(ch)
    return ch


def _event(site, ts, kind, anon="", user="", prev="", session="", event=""):
    return [str(uuid.uuid4()), site, kind, event, "", ts, datetime.now(UTC), anon, user, prev, session,
            "/p" if kind == "page" else "", "server", '{"price": "x"}', VIOLATION if kind != "alias" else []]


def _fill(ch, site: str, old: datetime, new: datetime) -> None:
    rows = []
    for ts, tag in ((old, "old"), (new, "new")):
        rows += [
            _event(site, ts, "page", f"a_{tag}", f"u_{tag}", session=f"s_{tag}"),
            _event(site, ts, "track", f"a_{tag}", f"u_{tag}", session=f"s_{tag}", event="Order Completed"),
            _event(site, ts, "alias", "", f"u_{tag}", prev=f"p_{tag}"),
            # one link seen on both sides of the cut-off: it is still held by a retained event
            _event(site, ts, "page", "a_both", "u_both", session=f"s_both_{tag}"),
        ]
    ch.insert("footpath.events", rows, column_names=EVENT_COLS)
    q = [[site, str(uuid.uuid4()), "track", "Bad", "server", ts, ts, 1, "planned", VIOLATION, "bad", "{}", "{}"]
         for ts in (old, new)]
    ch.insert("footpath.quarantine", q, column_names=QUARANTINE_COLS)
    ch.insert("footpath.rejected_messages", [[site, ts, "properties", "bad", "a_old"] for ts in (old, new)],
              column_names=["site_id", "received_at", "field", "reason", "anonymous_id"])


def _filled_sites(ch, *prefixes: str) -> tuple[list[str], datetime]:
    """New sites, each with rows older than the retention (DAYS + 3 days) and newer (1 hour);
    and the old rows' time."""
    now = datetime.now(UTC)
    old = now - timedelta(days=DAYS + 3)
    sites = [p + secrets.token_hex(5) for p in prefixes]
    for site in sites:
        _fill(ch, site, old, now - timedelta(hours=1))
    return sites, old


def _counts(ch, table: str, site: str) -> tuple[int, int]:
    """(rows older than the retention, newer rows) by the table's own expiry time."""
    expr = RETAINED[table]
    r = ch.query(f"SELECT countIf({expr} < now() - toIntervalDay({DAYS})), countIf({expr} >= now() - "
                 f"toIntervalDay({DAYS})) FROM footpath.`{table}` WHERE site_id = {{s:String}}",
                 parameters={"s": site}).result_rows[0]
    return int(r[0]), int(r[1])


def _optimize(ch, tables) -> None:
    for t in tables:
        ch.command(f"OPTIMIZE TABLE footpath.`{t}` FINAL")


def test_every_site_table_is_retained_or_exempt(engine):
    assert not unlisted_tables(engine), (
        "tables with a site_id in neither RETAINED nor EXEMPT of collector/write/retention.py")
    assert not set(RETAINED) & set(EXEMPT)


def test_retention_expires_old_rows_of_that_site_in_every_table(engine):
    ch = engine
    (short, keep), old = _filled_sites(ch, "r", "k")
    tables = sorted(set(RETAINED) & site_tables(ch))
    assert {"events", "report_steps", "identity_links", "identity_merges", "quarantine",
            "quality_violations_hourly", "rejected_messages"} <= set(tables)
    _optimize(ch, tables)
    before = {(t, s): _counts(ch, t, s) for t in tables for s in (short, keep)}
    for (t, s), (n_old, n_new) in before.items():
        assert n_old > 0 and n_new > 0, f"the fixture does not reach {t} ({s}): {n_old} old, {n_new} new"

    ddl = apply_retention(ch, {short: DAYS, keep: 0})
    assert set(ddl) == set(tables) and all(short in d and keep not in d for d in ddl.values())

    for t in tables:
        # OPTIMIZE is a silent no-op while a background merge holds the parts (the whole
        # suite shares this engine): force the TTL merge until it has run, then compare.
        deadline = time.monotonic() + 60
        while True:
            _optimize(ch, [t])
            got = _counts(ch, t, short)
            if got[0] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert got == (0, before[(t, short)][1]), t
        assert _counts(ch, t, keep) == before[(t, keep)], t

    # Independent of the TTL expressions: what is left, by ids.
    events = ch.query("SELECT DISTINCT anonymous_id FROM footpath.events WHERE site_id = {s:String} "
                      "AND anonymous_id != '' ORDER BY 1", parameters={"s": short}).result_rows
    assert [r[0] for r in events] == ["a_both", "a_new"]
    links = ch.query("SELECT anonymous_id, user_id, min(first_seen) FROM footpath.identity_links "
                     "WHERE site_id = {s:String} GROUP BY anonymous_id, user_id ORDER BY 1",
                     parameters={"s": short}).result_rows
    # (a server-side alias also links its previous id as an anonymous id)
    assert [(a, u) for a, u, _ in links] == [("a_both", "u_both"), ("a_new", "u_new"), ("p_new", "u_new")]
    # the link still held by a retained event keeps its first time (pre-login attribution unchanged)
    assert abs(links[0][2].replace(tzinfo=UTC) - old) < timedelta(seconds=1)
    merges = ch.query("SELECT previous_id FROM footpath.identity_merges WHERE site_id = {s:String}",
                      parameters={"s": short}).result_rows
    assert [r[0] for r in merges] == ["p_new"]
    kept = ch.query("SELECT DISTINCT previous_id FROM footpath.identity_merges WHERE site_id = {s:String} ORDER BY 1",
                    parameters={"s": keep}).result_rows
    assert [r[0] for r in kept] == ["p_new", "p_old"]

    # Removing the site's retention removes the TTL again.
    assert set(apply_retention(ch, {short: 0}).values()) == {""}
    for t in tables:
        create = str(ch.command(f"SHOW CREATE TABLE footpath.`{t}`"))
        assert short not in create, t


def test_old_parts_are_reevaluated_once_per_rule_change_not_every_start(engine):
    """A TTL change re-evaluates the parts already written (MATERIALIZE TTL, a background
    mutation); starting again with the same rules must not rewrite the table again."""
    ch = engine
    site = "m" + secrets.token_hex(5)

    def mutations() -> int:
        return int(ch.query("SELECT count() FROM system.mutations WHERE database = 'footpath' "
                            "AND table = 'events' AND command LIKE '%MATERIALIZE TTL%'").result_rows[0][0])

    n0 = mutations()
    apply_retention(ch, {site: 30})
    n1 = mutations()
    apply_retention(ch, {site: 30})  # a restart with the same configuration
    assert (n1 - n0, mutations() - n1) == (1, 0)
    apply_retention(ch, {site: 31})
    assert mutations() == n1 + 1


def test_rejected_messages_are_capped_for_every_site_whatever_its_retention(engine):
    """rejected_keep_days (the caps argument) expires old rejected messages of every site,
    also one without a retention; other tables get no TTL from it."""
    ch = engine
    (a, b), _ = _filled_sites(ch, "c", "d")
    try:
        ddl = apply_retention(ch, {a: 0, b: 0}, {"rejected_messages": DAYS})
        assert ddl["rejected_messages"].endswith(f"+ toIntervalDay({DAYS}) DELETE")
        assert all(d == "" for t, d in ddl.items() if t != "rejected_messages")
        deadline = time.monotonic() + 60
        while True:
            _optimize(ch, ["rejected_messages"])
            got = [_counts(ch, "rejected_messages", s) for s in (a, b)]
            if got == [(0, 1), (0, 1)] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert got == [(0, 1), (0, 1)]
        assert _counts(ch, "events", a)[0] > 0  # untouched
    finally:
        apply_retention(ch, {})
