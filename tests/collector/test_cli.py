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
