"""`footpath serve` with no config file: the secrets it makes are kept in the data dir,
whole, as they are used (`cat data/admin_token`, `cat data/demo_write_key`), and the same
on every start."""

from __future__ import annotations

import stat
from pathlib import Path

from collector.cli import prepared_settings


def test_the_demo_write_key_file_holds_the_key_to_send(tmp_path: Path) -> None:
    settings = prepared_settings(None, str(tmp_path), 8000, quiet=True)
    (site,) = settings.sites
    kept = (tmp_path / "demo_write_key").read_text().strip()
    assert kept == site.write_key and kept.startswith("sk_demo_") and len(kept) > len("sk_demo_") + 20
    assert (tmp_path / "admin_token").read_text().strip() == settings.admin_token
    assert stat.S_IMODE((tmp_path / "demo_write_key").stat().st_mode) == 0o600
    again = prepared_settings(None, str(tmp_path), 8000, quiet=True)
    assert again.sites[0].write_key == kept and again.admin_token == settings.admin_token


def test_a_data_dir_from_before_keeps_its_demo_key(tmp_path: Path) -> None:
    """Earlier versions kept only the part after the prefix: the key stays the same, and
    the file is rewritten to hold all of it."""
    (tmp_path / "demo_write_key").write_text("Zm9vYmFyYmF6cXV4\n")
    settings = prepared_settings(None, str(tmp_path), 8000, quiet=True)
    assert settings.sites[0].write_key == "sk_demo_Zm9vYmFyYmF6cXV4"
    assert (tmp_path / "demo_write_key").read_text() == "sk_demo_Zm9vYmFyYmF6cXV4"


def test_global_options_after_the_command_too() -> None:
    """Found in QA: `footpath serve --config FILE` (ARCHITECTURE.md's spelling) was refused."""
    from collector.cli import parser

    args = parser().parse_args(["serve", "--config", "c.toml", "--port", "9"])
    assert (args.config, args.port) == ("c.toml", 9)
    args = parser().parse_args(["--config", "a.toml", "report", "fallout", "--config", "b.toml", "--data-dir", "d"])
    assert (args.config, args.data_dir) == ("b.toml", "d")  # after the command wins
    assert parser().parse_args(["--config", "a.toml", "sql", "SELECT 1"]).config == "a.toml"


def test_admin_commands_work_while_a_site_plan_is_broken_and_name_a_missing_token(
        server, tmp_path: Path, monkeypatch, capsys) -> None:
    """Found in QA: with the config of a collector whose plan file broke while it ran (the
    collector keeps the last good plan), `footpath sql` and `footpath quality` refused to
    start ('bad configuration'); and with no admin token they said "no collector answers"."""
    import pytest

    from collector.cli import main
    from tests.conftest import ADMIN, write_config

    plan = tmp_path / "plan.json"
    plan.write_text('{"version": 1, "events": {')
    cfg = write_config(tmp_path / "c.toml", [{"id": "shop", "public_key": "pk_shop1", "tracking_plan": str(plan)}])
    monkeypatch.delenv("FOOTPATH_CONFIG", raising=False)
    monkeypatch.setenv("FOOTPATH_ADMIN_TOKEN", ADMIN)
    assert main(["--url", server.url, "--config", str(cfg), "--data-dir", str(tmp_path), "sql", "SELECT 41 + 1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "42"
    monkeypatch.delenv("FOOTPATH_ADMIN_TOKEN")
    with pytest.raises(SystemExit):
        main(["--url", server.url, "--data-dir", str(tmp_path / "empty"), "sql", "SELECT 1"])
    assert "no admin token" in capsys.readouterr().err


def test_serve_and_migrate_on_a_data_dir_in_use_say_so(tmp_path: Path, monkeypatch, capsys) -> None:
    """Found in QA: a second `serve` on a data dir in use, and `migrate` beside a running
    collector, ended in tracebacks (the buffer's lock; the embedded engine's)."""
    from collector.buffer.wal import WriteAheadBuffer
    from collector.cli import main
    from collector.settings import load_settings

    monkeypatch.delenv("FOOTPATH_CONFIG", raising=False)
    running = WriteAheadBuffer(load_settings(None, env={}, overrides={"data_dir": str(tmp_path)}).buffer_dir)
    try:
        assert main(["--data-dir", str(tmp_path), "serve", "--port", "9"]) == 2
        assert "another collector is running on" in capsys.readouterr().err
        assert main(["--data-dir", str(tmp_path), "migrate"]) == 2
        assert "owns its embedded engine" in capsys.readouterr().err
    finally:
        running.close()
    from collector.cli import (
        _in_use,  # stopped: free again (migrate itself needs this process's one engine path)
    )

    assert _in_use(load_settings(None, env={}, overrides={"data_dir": str(tmp_path)})) is None


def test_a_config_file_without_sites_is_refused_not_replaced_by_the_demo(tmp_path: Path, capsys) -> None:
    """Found in QA: a config with [settings] and no [[site]] silently served the demo site
    with a generated write key."""
    from collector.cli import main
    from tests.conftest import write_config

    cfg = write_config(tmp_path / "c.toml", [], {"flush_ms": 100})
    assert main(["serve", "--config", str(cfg), "--data-dir", str(tmp_path / "d")]) == 2
    assert "no [[site]] table" in capsys.readouterr().err
    assert not (tmp_path / "d" / "demo_write_key").exists()
