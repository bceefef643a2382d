"""The compiled hot path (collector/_compiled.py, setup.py): a compiled module never stands
in for a source it was not built from, and the suite runs what ships."""

from __future__ import annotations

import importlib
import importlib.machinery
import json
from pathlib import Path

import pytest

from collector import _compiled

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _package(tmp_path: Path, source: str = "X = 1\n", compiled: bool = True, recorded: str | None = None) -> Path:
    pkg = tmp_path / "collector"
    (pkg / "validate").mkdir(parents=True)
    src = pkg / "validate" / "fast.py"
    src.write_text(source)
    if compiled:
        (pkg / "validate" / f"fast{SUFFIX}").write_bytes(b"\x7fELF")  # presence is all stale() reads
    hashes = {"collector.validate.fast": recorded if recorded is not None else _compiled.digest(src)}
    (pkg / _compiled.HASHES).write_text(json.dumps(hashes))
    return pkg


def test_a_compiled_module_built_from_its_current_source_is_accepted(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    assert _compiled.stale(pkg) == []
    _compiled.check(pkg)


def test_an_edited_source_is_refused_naming_the_module_and_the_fix(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    (pkg / "validate" / "fast.py").write_text("X = 2\n")
    assert _compiled.stale(pkg) == ["collector.validate.fast"]
    with pytest.raises(ImportError, match=r"collector\.validate\.fast.*make build"):
        _compiled.check(pkg)


def test_a_compiled_module_without_a_recorded_build_is_refused(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    (pkg / _compiled.HASHES).unlink()
    assert _compiled.stale(pkg) == ["collector.validate.fast"]


def test_plain_python_needs_no_record(tmp_path: Path) -> None:
    pkg = _package(tmp_path, compiled=False, recorded="not the source's hash")
    assert _compiled.stale(pkg) == []


def test_every_listed_module_has_its_source() -> None:
    for module in _compiled.MODULES:
        assert _compiled.source_path(module).is_file(), module


def test_the_hot_path_is_compiled_all_or_not_at_all() -> None:
    """`make test` builds first, so the suite exercises the compiled modules; after `make
    pure` it exercises the sources.  A partial build would test a mixture nobody ships."""
    files = {m: importlib.import_module(m).__file__ or "" for m in _compiled.MODULES}
    compiled = {m for m, f in files.items() if f.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))}
    assert compiled in (set(), set(_compiled.MODULES)), files
    assert _compiled.stale() == []


def test_a_leftover_compiled_module_that_is_no_longer_listed_is_refused(tmp_path: Path) -> None:
    """A build from before a module left MODULES would otherwise shadow its source forever."""
    pkg = _package(tmp_path)
    (pkg / "receive").mkdir()
    (pkg / "receive" / "ingest.py").write_text("X = 1\n")
    (pkg / "receive" / f"ingest{SUFFIX}").write_bytes(b"\x7fELF")
    assert _compiled.stale(pkg) == ["collector.receive.ingest"]
    with pytest.raises(ImportError, match=r"collector\.receive\.ingest"):
        _compiled.check(pkg)
