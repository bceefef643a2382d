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


def statements(name: str, database: str) -> list[str]:
    """A migration's statements on report_steps, aimed at a copy in another database."""
    text = render(next(MIGRATIONS_DIR.glob(name)).read_text("utf-8"), ClusterRender())
    return split_statements(text.replace("footpath.report_steps", f"{database}.report_steps"))


def test_the_migration_keys_rows_stored_before_it(ch: Any) -> None:
    """0045 on a copy of report_steps as 0024 made it, holding rows written before 0045: the
    key of a user row, of an anonymous-only row and of a row with neither id (0)."""
    ch.command("DROP DATABASE IF EXISTS mig0045")
    ch.command("CREATE DATABASE mig0045")
    try:
        for st in statements("0024_*.sql", "mig0045"):
            ch.command(st)
        rows = [("s1", 1, "anon-1", "user-1"), ("s1", 2, "anon-2", ""), ("s2", 3, "", "user-1"), ("s2", 4, "", "")]
        ch.insert("mig0045.report_steps", [list(r) for r in rows], column_names=["site_id", "ck", "anonymous_id", "user_id"])
        for st in statements("0045_*.sql", "mig0045"):
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


def test_t_is_stored_uncompressed_and_reads_the_same_before_and_after(ch: Any) -> None:
    """0046 on a copy of report_steps as 0024-0045 made it: t (the report order) is stored
    without a codec from then on, its comment stays, and rows written under the old codec
    read the same values before and after a merge rewrites their part with the new one."""
    ch.command("DROP DATABASE IF EXISTS mig0046")
    ch.command("CREATE DATABASE mig0046")
    try:
        for name in ("0024_*.sql", "0045_*.sql"):
            for st in statements(name, "mig0046"):
                ch.command(st, settings={"mutations_sync": 2})
        # wide parts: a small compact part keeps no size per column
        ch.command("ALTER TABLE mig0046.report_steps MODIFY SETTING min_bytes_for_wide_part = 0")
        # times of one container and the next, as the view packs them: ms << 21 | sequence
        rows = [("s1", ck, (1_780_000_000_000 + 997 * i) << 21 | i % 3) for ck in (7, 9) for i in range(5000)]
        ch.insert("mig0046.report_steps", [list(r) for r in rows], column_names=["site_id", "ck", "t"])

        def column() -> tuple[str, str, int, int]:
            return ch.query("SELECT compression_codec, comment, data_compressed_bytes, data_uncompressed_bytes "
                            "FROM system.columns WHERE database = 'mig0046' AND table = 'report_steps' "
                            "AND name = 't'").result_rows[0]

        def stored() -> list[tuple[int, int]]:
            return [tuple(r) for r in ch.query("SELECT ck, t FROM mig0046.report_steps ORDER BY ck, t").result_rows]

        before = column()
        assert "Delta" in before[0] and before[2] < before[3]  # 0024's codec compresses
        for st in statements("0046_*.sql", "mig0046"):
            ch.command(st)
        assert stored() == sorted((ck, t) for _, ck, t in rows)
        ch.command("OPTIMIZE TABLE mig0046.report_steps FINAL")
        codec, comment, compressed, uncompressed = column()
        assert codec == "CODEC(NONE)"
        assert comment == before[1] and "seq" in comment
        assert compressed >= uncompressed == 8 * len(rows)  # the rewritten part holds t as plain words
        assert stored() == sorted((ck, t) for _, ck, t in rows)
    finally:
        ch.command("DROP DATABASE IF EXISTS mig0046")
