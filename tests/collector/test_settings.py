"""Settings: one registry, every setting documented, config errors that name the field."""

import pytest

from collector.cli import main
from collector.settings import REGISTRY, ConfigError, load_settings, registered_field_names, settings_markdown
from tests.conftest import ROOT, write_config


def test_every_setting_is_in_the_registry_and_the_docs():
    assert {s.name for s in REGISTRY} == registered_field_names()
    docs = (ROOT / "docs" / "settings.md").read_text()
    assert docs == settings_markdown(), "docs/settings.md is stale: run `footpath settings > docs/settings.md`"
    for s in REGISTRY:
        assert s.help and f"`{s.name}`" in docs and s.env in docs


def test_every_site_field_is_documented():
    """Each [[site]] key the parser accepts has a line in the generated reference, and the
    reference names no key the parser would refuse."""
    from dataclasses import fields

    from collector.sites import _PASSTHROUGH, SITE_FIELD_HELP, Site

    accepted = {f.name for f in fields(Site) if f.name != "extra"} | _PASSTHROUGH
    assert set(SITE_FIELD_HELP) == accepted
    docs = (ROOT / "docs" / "settings.md").read_text()
    for name, help_text in SITE_FIELD_HELP.items():
        assert help_text and f"| `{name}` |" in docs, name


def test_precedence_defaults_file_env_flags(tmp_path):
    cfg = write_config(tmp_path / "c.toml", [], {"flush_rows": 7, "flush_ms": 9})
    s = load_settings(str(cfg), env={"FOOTPATH_FLUSH_MS": "11"}, overrides={"flush_ms": None})
    assert (s.flush_rows, s.flush_ms, s.max_batch_bytes) == (7, 11, 500 * 1024)
    s = load_settings(str(cfg), env={"FOOTPATH_FLUSH_MS": "11"}, overrides={"flush_ms": 13})
    assert s.flush_ms == 13


@pytest.mark.parametrize("sites,settings,message", [
    ([{"id": "shop"}], None, "site 'shop': field 'public_key': is required"),
    ([{"id": "Shop!", "public_key": "pk_shop1"}], None, "field 'id'"),
    ([{"id": "shop", "public_key": "pk_shop1", "consent_default": "maybe"}], None,
     "site 'shop': field 'consent_default': must be one of granted, denied, pending"),
    ([{"id": "shop", "public_key": "pk_shop1", "origins": ["shop.example"]}], None,
     "'shop.example' is not an origin"),
    ([{"id": "shop", "public_key": "pk_shop1", "orgins": []}], None, "field 'orgins': unknown field"),
    ([{"id": "a", "public_key": "pk_same1"}, {"id": "b", "public_key": "pk_same1"}], None,
     "site 'b': field 'public_key'"),
    ([{"id": "shop", "public_key": "pk_shop1", "gpc": "yes"}], None, "field 'gpc': must be true or false"),
    ([{"id": "shop", "public_key": "pk_same1", "write_key": "pk_same1"}], None,  # its own public key (QA)
     "site 'shop': field 'write_key': 'pk_same1' is already used by field public_key of site 'shop'"),
    ([], {"flush_rows": "many"}, "setting 'flush_rows' must be an integer"),
    ([], {"fsync": "sometimes"}, "setting 'fsync' must be always, interval or off"),
    ([], {"nonsense": 1}, "unknown setting 'nonsense'"),
])
def test_bad_config_names_site_and_field(tmp_path, sites, settings, message):
    cfg = write_config(tmp_path / "c.toml", sites, settings)
    with pytest.raises(ConfigError) as e:
        load_settings(str(cfg), env={})
    assert message in str(e.value)


def test_serve_with_a_bad_config_prints_an_error_not_a_traceback(tmp_path, capsys):
    cfg = write_config(tmp_path / "c.toml", [{"id": "shop"}])
    assert main(["--config", str(cfg), "serve"]) == 2
    err = capsys.readouterr().err
    assert "bad configuration" in err and "public_key" in err and "Traceback" not in err


def test_invalid_toml(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[[site]\nid=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(str(p), env={})


@pytest.mark.parametrize("spec", [s for s in REGISTRY if s.kind is int], ids=lambda s: s.name)
def test_every_integer_setting_refuses_a_negative_value_naming_where_it_came_from(tmp_path, spec):
    """Found in QA: max_past_days = -1 started and then rejected every event, and other
    settings took negative values silently; the errors did not say file or variable."""
    with pytest.raises(ConfigError, match=rf"^{spec.env}: setting '{spec.name}' must be"):
        load_settings(None, env={spec.env: "-1"})
    cfg = write_config(tmp_path / "c.toml", [], {spec.name: -1})
    with pytest.raises(ConfigError, match=rf"^{cfg}: setting '{spec.name}' must be"):
        load_settings(str(cfg), env={})
    with pytest.raises(ConfigError, match="must be an integer, got 1.5"):  # was cut to 1
        load_settings(str(write_config(tmp_path / "d.toml", [], {spec.name: 1.5})), env={})


def test_a_config_file_that_is_not_utf8_is_named(tmp_path):
    p = tmp_path / "c.toml"
    p.write_bytes(b"[settings]\nflush_ms = 5 # \xff\n")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_settings(str(p), env={})
