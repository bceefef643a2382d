"""Where person reports on the views get their persons: identity's own SELECT, re-targeted at
footpath.report_steps, reading the identity key stored there (0045) instead of hashing
both id strings of every row, with the same person for every row as footpath.events_person."""

from __future__ import annotations

from typing import Any

from collector.reports import sources
from collector.write.store import MIGRATIONS_DIR, ClusterRender, render, split_statements
from tests.reports.conftest import Env


def test_person_rows_on_the_views_read_the_stored_identity_key(reports_env: Env, ch: Any) -> None:
    sql = sources.person_select(ch)
    for expr, column in sources.STORED_IDENTITY:
        assert expr not in sql
        assert column in sql
    assert "FROM footpath.report_steps" in sql


def test_every_view_row_has_the_person_events_person_gives_its_event(reports_env: Env, ch: Any) -> None:
    params = {"sites": list(reports_env.sites.values())}
    views = (f"SELECT site_id, ck, t, key, person_key FROM ({sources.person_select(ch)}) "
             "WHERE site_id IN {sites:Array(String)}")
    raw = (f"SELECT site_id, {sources.CK_EXPR} AS ck, {sources.T_EXPR} AS t, {sources.KEY_EXPR} AS key, person_key "
           f"FROM footpath.events_person WHERE {sources.ROWS_WHERE} AND site_id IN {{sites:Array(String)}}")
    rows = ch.query(f"SELECT count(), countIf(v.person_key != r.person_key), uniqExact(v.person_key), "
                    f"countIf(v.person_key = 0) FROM ({views}) AS v "
                    f"INNER JOIN ({raw}) AS r USING (site_id, ck, t, key)", parameters=params).result_rows[0]
    total, different, persons, none = rows
    stored = ch.query("SELECT count() FROM footpath.report_steps WHERE site_id IN {sites:Array(String)}",
                      parameters=params).result_rows[0][0]
    assert total >= stored > 100
    assert different == 0
    assert persons > 10 and none == 0


def test_the_migration_keys_rows_stored_before_it(ch: Any) -> None:
    """0045 on a copy of report_steps as 0024 made it, holding rows written before 0045: the
    key of a user row, of an anonymous-only row and of a row with neither id (0)."""
    def statements(name: str) -> list[str]:
        text = render(next(MIGRATIONS_DIR.glob(name)).read_text("utf-8"), ClusterRender())
        return split_statements(text.replace("footpath.report_steps", "mig0045.report_steps"))

    ch.command("DROP DATABASE IF EXISTS mig0045")
    ch.command("CREATE DATABASE mig0045")
    try:
        for st in statements("0024_*.sql"):
            ch.command(st)
        rows = [("s1", 1, "anon-1", "user-1"), ("s1", 2, "anon-2", ""), ("s2", 3, "", "user-1"), ("s2", 4, "", "")]
        ch.insert("mig0045.report_steps", [list(r) for r in rows], column_names=["site_id", "ck", "anonymous_id", "user_id"])
        for st in statements("0045_*.sql"):
            ch.command(st, settings={"mutations_sync": 2})
        expected = {1: "cityHash64('s1', 'user-1')", 2: "bitXor(cityHash64('s1', ''), cityHash64('anon-2'))",
                    3: "cityHash64('s2', 'user-1')", 4: "toUInt64(0)"}
        want = ch.query("SELECT " + ", ".join(expected.values())).result_rows[0]
        got = dict(ch.query("SELECT ck, identity_key FROM mig0045.report_steps").result_rows)
        assert got == dict(zip(expected, want, strict=True))
        assert len(set(want)) == 4
        written = ch.query("SELECT count() FROM system.parts_columns WHERE database = 'mig0045' "
                           "AND table = 'report_steps' AND column = 'identity_key' AND active").result_rows[0][0]
        assert written >= 1  # the mutation wrote the column into the stored part
    finally:
        ch.command("DROP DATABASE IF EXISTS mig0045")
