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


def test_the_cluster_setting_renders_what_migrate_prints(monkeypatch, capsys):
    from collector.cli import main

    monkeypatch.setenv("FOOTPATH_CLICKHOUSE_CLUSTER", "prod")
    assert main(["migrate", "--print"]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE IF NOT EXISTS footpath.events ON CLUSTER prod" in out
    assert "ENGINE = ReplicatedMergeTree" in out and "Distributed(prod, footpath, events" in out
    assert main(["migrate", "--print", "--cluster", "eu"]) == 0  # the flag wins over the setting
    out = capsys.readouterr().out
    assert "ON CLUSTER eu" in out and "ON CLUSTER prod" not in out


def test_the_collectors_own_migrations_render_for_the_cluster_setting(engine_dir):
    """The writer migrates at its first connection; with clickhouse_cluster set it must
    render as `footpath migrate` does, or an upgrade's new table would be created on one
    node, unreplicated.  The embedded engine has no cluster, so the rendered DDL fails
    there, naming it: proof that the collector sent the cluster's statements."""
    import pytest

    from collector.query.sql import sql_limits
    from collector.write.store import Store

    store = Store("chdb://" + str(engine_dir), sql_limits(20, 100, 1 << 30), cluster=ClusterRender("prod"))
    with pytest.raises(Exception, match="prod") as e:  # noqa: PT011 - the engine's own error type
        store.writer()
    assert "cluster" in str(e.value).lower()
    assert not store.migrated


def test_a_cluster_needs_a_server_and_a_plain_name(tmp_path):
    import pytest

    from collector.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="needs a ClickHouse server"):
        load_settings(None, env={"FOOTPATH_CLICKHOUSE_CLUSTER": "prod"})
    with pytest.raises(ConfigError, match="must be a cluster name"):
        load_settings(None, env={"FOOTPATH_CLICKHOUSE_CLUSTER": "prod; DROP", "FOOTPATH_CLICKHOUSE_URL": "http://ch:8123"})
    s = load_settings(None, env={"FOOTPATH_CLICKHOUSE_CLUSTER": "prod", "FOOTPATH_CLICKHOUSE_URL": "http://ch:8123"})
    assert s.clickhouse_cluster == "prod"
