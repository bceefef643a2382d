"""Migrations: applied once and recorded; every statement also renders for a cluster
(ON CLUSTER, Replicated engines, a Distributed table) and parses with ClickHouse's own
parser (formatQuery), since no cluster runs here."""

import re

from collector.write.store import ClusterRender, apply_migrations, migration_files, render_all

CREATE = re.compile(r"^\s*CREATE\s+(TABLE|MATERIALIZED VIEW|VIEW|DICTIONARY|DATABASE|FUNCTION)", re.I | re.M)


def test_every_statement_renders_and_parses_for_a_cluster(ch):
    rendered = render_all(ClusterRender("prod"))
    assert len(rendered) == len(migration_files())
    n = 0
    for name, statements in rendered:
        for st in statements:
            body = "\n".join(ln for ln in st.splitlines() if not ln.strip().startswith("--"))
            formatted = ch.query("SELECT formatQuery({q:String})", parameters={"q": body}).result_rows[0][0]
            assert formatted, name
            if CREATE.search(body):
                assert "ON CLUSTER prod" in formatted, f"{name}: {formatted[:120]}"
            for engine in re.findall(r"ENGINE = (\w+)", formatted):
                assert engine.startswith("Replicated") or engine in ("Distributed", "Memory", "Null"), (name, engine)
            n += 1
    assert n >= len(rendered)
    dist = [st for name, sts in rendered if name.startswith("0003") for st in sts]
    assert "Distributed(prod, footpath, events" in dist[0]


def test_single_node_render_has_no_cluster_syntax():
    for name, statements in render_all(ClusterRender()):
        for st in statements:
            assert "ON CLUSTER" not in st and "{" + "replicated}" not in st and "{on_cluster}" not in st, name
            assert "Distributed(" not in st, name


def test_migrations_are_recorded_and_applied_once(ch):
    apply_migrations(ch)  # whatever this session's engine still lacks
    assert apply_migrations(ch) == []  # a second run applies nothing
    names = {r[0] for r in ch.query("SELECT name FROM footpath.schema_migrations FINAL").result_rows}
    assert {p.name for p in migration_files()} <= names
